/*
 * virtio-blk, the numbers and the request header ("Virtual I/O Device (VIRTIO) Version 1.1",
 * §5.2), for guests that drive a block device through virtio_mmio.h.
 */
#pragma once

#include <stdint.h>

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1 /* size_max: the largest segment */
#define VIRTIO_BLK_F_SEG_MAX 2  /* seg_max: the most data segments in a request */
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

/* The configuration space (§5.2.4, struct virtio_blk_config): byte offsets of its fields. */
#define VIRTIO_BLK_CONFIG_CAPACITY 0 /* le64, in 512-byte sectors */
#define VIRTIO_BLK_CONFIG_SIZE_MAX 8 /* le32 */
#define VIRTIO_BLK_CONFIG_SEG_MAX 12 /* le32 */
#define VIRTIO_BLK_CONFIG_BLK_SIZE 20

#define VIRTIO_BLK_SECTOR_SIZE 512

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20 /* GET_ID: the serial, NUL-padded, not terminated when 20 long */

/* A request (§5.2.6, struct virtio_blk_req) is this header (device-readable), the data (readable
 * for OUT, writable for IN and GET_ID, none for FLUSH), then one device-writable status byte. */
struct virtio_blk_req_header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_req_header) == 16, "§5.2.6 virtio_blk_req header");
