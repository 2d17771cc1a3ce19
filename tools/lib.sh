# shellcheck shell=bash
# tools/lib.sh - helpers shared by the tools/ scripts. Source it, don't run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#
# Provides:
#   WISP_CACHE            cache directory (default $XDG_CACHE_HOME/wisp or ~/.cache/wisp, as
#                         wisp's own kernel cache), created on demand
#   WISP_TOOLS            absolute path of tools/
#   log / warn / die      messages to stderr, prefixed with the calling script's name
#   ensure_packages P...  apt-get install the Debian packages among P... that are missing
#   sha256_of ARGS...     one hash over files and literal strings (for content caching)

WISP_TOOLS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${WISP_CACHE:-}" && "${XDG_CACHE_HOME:-}" == /* ]]; then
    WISP_CACHE=$XDG_CACHE_HOME/wisp
fi
WISP_CACHE="${WISP_CACHE:-${HOME:-/root}/.cache/wisp}"
export WISP_CACHE WISP_TOOLS

# The prefix of messages: WISP_PROG if the script set it, else the script's name.
_wisp_prog="${WISP_PROG:-$(basename "${0:-wisp}" .sh)}"

log()  { printf '%s: %s\n' "$_wisp_prog" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$_wisp_prog" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$_wisp_prog" "$*" >&2; exit 1; }

# cache_dir SUBDIR: prints $WISP_CACHE/SUBDIR, creating it.
cache_dir() {
    local dir="$WISP_CACHE/$1"
    mkdir -p "$dir" || die "cannot create cache directory $dir"
    printf '%s\n' "$dir"
}

_package_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# try_apt_update: runs apt-get update at most once per process tree; fails quietly
# (e.g. offline), for callers that can do without it.
try_apt_update() {
    [[ -n "${_WISP_APT_UPDATED:-}" ]] && return 0
    log "running apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null >&2 || return 1
    export _WISP_APT_UPDATED=1
}

apt_update_once() {
    try_apt_update || die "apt-get update failed (no network to the Debian mirrors?)"
}

# ensure_packages PKG...: installs the missing ones (needs root), quietly.
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        _package_installed "$pkg" || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]} (run as root or install them)"
    apt_update_once
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" </dev/null >&2 || die "apt-get install ${missing[*]} failed"
}

# sha256_of ARG...: each ARG that names a file contributes its contents and name,
# any other ARG contributes itself. Prints one hex digest.
sha256_of() {
    local arg
    for arg in "$@"; do
        if [[ -f "$arg" ]]; then
            printf 'file %s\n' "$arg"
            sha256sum <"$arg"
        else
            printf 'str %s\n' "$arg"
        fi
    done | sha256sum | cut -d' ' -f1
}

# module_closure MODDIR NAME...: the modules NAME... (kvm-amd and kvm_amd are the same
# name) and everything they depend on, per MODDIR/modules.dep, as paths relative to
# MODDIR in load order (dependencies first). A name with no module is reported as a
# warning and skipped (it may be built in, or absent from this kernel's configuration).
module_closure() {
    local moddir=$1
    shift
    [[ -f "$moddir/modules.dep" ]] || die "no modules.dep in $moddir"
    awk -v wanted="$*" -v prog="$_wisp_prog" '
        function norm(s) { sub(/.*\//, "", s); sub(/\.ko.*$/, "", s); gsub(/-/, "_", s); return s }
        function visit(p,   n, i, d) {
            if (p in done) return
            done[p] = 1
            n = split(deps[p], d, " ")
            for (i = n; i >= 1; i--) visit(d[i])
            print p
        }
        {
            path = $1; sub(/:$/, "", path)
            byname[norm(path)] = path
            $1 = ""; deps[path] = $0
        }
        END {
            n = split(wanted, w, " ")
            for (i = 1; i <= n; i++) {
                name = norm(w[i])
                if (name in byname) visit(byname[name])
                else printf "%s: warning: no module %s in this kernel; skipped\n", prog, w[i] > "/dev/stderr"
            }
        }' "$moddir/modules.dep"
}

# copy_modules MODDIR DEST NAME...: copies the closure of NAME... into DEST (a
# lib/modules/<release> directory) with a matching modules.dep, and writes the load
# order to DEST/modules.load (one relative path a line).
copy_modules() {
    local moddir=$1 dest=$2 rel
    shift 2
    mkdir -p "$dest"
    module_closure "$moddir" "$@" >"$dest/modules.load"
    while read -r rel; do
        mkdir -p "$dest/$(dirname "$rel")"
        cp "$moddir/$rel" "$dest/$rel"
    done <"$dest/modules.load"
    # Keep the modules.dep lines of the modules copied, so modprobe works as usual.
    awk 'NR == FNR { have[$0 ":"] = 1; next } ($1 in have)' \
        "$dest/modules.load" "$moddir/modules.dep" >"$dest/modules.dep"
}

# stage_busybox DIR: a static busybox at DIR/bin/busybox with a link per applet and the
# usual top-level directories (Debian's busybox-static is installed when missing).
stage_busybox() {
    local dir=$1 applet
    ensure_packages busybox-static
    mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc}
    cp /bin/busybox "$dir/bin/busybox"
    for applet in $(/bin/busybox --list-full); do
        [[ -e "$dir/$applet" ]] || ln -s /bin/busybox "$dir/$applet"
    done
    # The kernel opens /dev/console for init before devtmpfs is mounted; the node
    # needs root to create. Each /init also reopens the console after mounting /dev.
    mknod -m 600 "$dir/dev/console" c 5 1 2>/dev/null || true
}

# elf_libraries FILE: the shared libraries (and loader) ldd lists for FILE; nothing for a
# static binary or a script.
elf_libraries() {
    ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' || true
}

# stage_files STAGE < paths: copies each file (dereferenced) to STAGE/path.
stage_files() {
    local stage=$1 file
    while read -r file; do
        mkdir -p "$stage$(dirname "$file")"
        cp -L "$file" "$stage$file" || die "cannot copy $file"
    done
}

# pack_cpio DIR OUT [gzip|none]: a newc archive of DIR's contents, owned by root.
pack_cpio() {
    local dir=$1 out=$2 compress=${3:-gzip}
    ensure_packages cpio
    (cd "$dir" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
        | cpio --null -o -H newc -R 0:0 --reproducible --quiet) \
        | if [[ $compress == gzip ]]; then gzip -6 -n; else cat; fi >"$out.tmp.$$" \
        || die "packing $dir into $out failed"
    mv "$out.tmp.$$" "$out"
}

# prune_cache DIR PREFIX [KEEP]: deletes all but the KEEP (default 3) newest files named
# PREFIX* in DIR, so content-keyed artifacts don't pile up as the inputs change.
prune_cache() {
    local dir=$1 prefix=$2 keep=${3:-3}
    find "$dir" -maxdepth 1 -type f -name "$prefix*" -printf '%T@ %p\n' \
        | sort -rn | tail -n +"$((keep + 1))" | cut -d' ' -f2- | xargs -r rm -f --
}
