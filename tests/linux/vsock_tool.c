/* vsock_tool: both ends of the Linux check of virtio-vsock, built static so that it runs in the
 * guest (read from a drive) and in the nested test host alike.
 *   listen PORT               guest: accepts one AF_VSOCK connection on PORT, reads a line, answers
 *                             "pong LINE", exits
 *   connect CID PORT TEXT     guest: connects to CID:PORT, sends TEXT, prints the answer line
 *   uds-connect PATH PORT TEXT host: Firecracker's model: connects to the unix socket PATH, sends
 *                             "CONNECT PORT", prints the "OK ..." line, sends TEXT, prints the answer
 *   uds-listen PATH           host: accepts one connection on the unix socket PATH (a guest's
 *                             connection to port P arrives at uds_path_P), answers "host-pong LINE"
 * Exit status 0 on success, 1 with a message on stderr otherwise. */
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int die(const char *what) {
  perror(what);
  exit(1);
}

/* One line (without its newline) read byte by byte, so that nothing after it is consumed. */
static void read_line(int fd, char *line, size_t size) {
  size_t length = 0;
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n <= 0) die("read");
    if (c == '\n') break;
    if (length + 1 < size) line[length++] = c;
  }
  line[length] = 0;
}

static void write_text(int fd, const char *prefix, const char *text) {
  char line[512];
  int length = snprintf(line, sizeof(line), "%s%s\n", prefix, text);
  if (write(fd, line, (size_t)length) != length) die("write");
}

static void answer_one(int listener, const char *prefix) {
  if (listen(listener, 1) < 0) die("listen");
  int client = accept(listener, NULL, NULL);
  if (client < 0) die("accept");
  char line[256];
  read_line(client, line, sizeof(line));
  write_text(client, prefix, line);
  close(client);
}

static struct sockaddr_un unix_address(const char *path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(address.sun_path)) die("socket path too long");
  strcpy(address.sun_path, path);
  return address;
}

int main(int argc, char **argv) {
  char line[256];
  if (argc == 3 && strcmp(argv[1], "listen") == 0) {
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (fd < 0) die("socket(AF_VSOCK)");
    struct sockaddr_vm address = {.svm_family = AF_VSOCK,
                                  .svm_cid = VMADDR_CID_ANY,
                                  .svm_port = (unsigned)atoi(argv[2])};
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) die("bind");
    answer_one(fd, "pong ");
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "connect") == 0) {
    int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (fd < 0) die("socket(AF_VSOCK)");
    struct sockaddr_vm address = {.svm_family = AF_VSOCK,
                                  .svm_cid = (unsigned)atoi(argv[2]),
                                  .svm_port = (unsigned)atoi(argv[3])};
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) die("connect");
    write_text(fd, "", argv[4]);
    read_line(fd, line, sizeof(line));
    printf("%s\n", line);
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "uds-connect") == 0) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = unix_address(argv[2]);
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) die("connect");
    write_text(fd, "CONNECT ", argv[3]);
    read_line(fd, line, sizeof(line));
    printf("%s\n", line);
    write_text(fd, "", argv[4]);
    read_line(fd, line, sizeof(line));
    printf("%s\n", line);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "uds-listen") == 0) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = unix_address(argv[2]);
    unlink(argv[2]);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) die("bind");
    answer_one(fd, "host-pong ");
    unlink(argv[2]);
    return 0;
  }
  fprintf(stderr, "usage: vsock_tool listen PORT | connect CID PORT TEXT | "
                  "uds-connect PATH PORT TEXT | uds-listen PATH\n");
  return 2;
}
