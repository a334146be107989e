/*
 * udp-batch: send many UDP datagrams to one destination with one sendmmsg(2)
 * call per up to 256 datagrams, for the VXLAN copy target. Node's dgram
 * makes one system call and one callback per datagram; mirroring hundreds of
 * thousands of copies a second needs batches.
 *
 * JavaScript API (Linux only):
 *   open(family 4|6, bindAddress: Uint8Array|null, bindPort) -> fd
 *     A non-blocking, unconnected UDP socket (an unconnected socket is not
 *     told of ICMP port-unreachable, so a target that is down costs nothing
 *     and loses nothing else). Throws Error with `code` (errno name) on failure.
 *   send(fd, family, address: Uint8Array, port, data: Uint8Array,
 *        offsets: Uint32Array, lengths: Uint32Array, count, errors: Uint32Array,
 *        gso = 0, gsoOut?: Uint32Array, gsoMaxSize = 0)
 *     -> datagrams handled (sent or failed). Datagram i is
 *     data[offsets[i], offsets[i] + lengths[i]). A datagram the kernel refuses
 *     is counted in errors[errno] (errors has at least 256 entries; larger
 *     errno values count in errors[0]) and skipped. When the socket's buffer
 *     is full (EAGAIN), it stops and returns how many it handled; the caller
 *     decides what to do with the rest.
 *
 *     gso = 1: UDP generic segmentation offload (UDP_SEGMENT, Linux >= 4.18).
 *     A run of consecutive datagrams of one length L (and at most one shorter
 *     datagram after it) leaves as ONE message carrying a UDP_SEGMENT cmsg
 *     with gso_size L: the kernel cuts it into the same datagrams, at a
 *     fraction of the per-datagram cost. At most 64 datagrams and 65,000
 *     bytes go in one such message; a lone datagram goes as it is. The
 *     receiver cannot tell the difference. A refused GSO message counts
 *     every datagram of it in errors[errno], as if each had been refused.
 *     Datagrams longer than gsoMaxSize (when not 0) are not grouped.
 *     When the kernel refuses a GSO message because GSO is not possible on
 *     this path (EINVAL, EIO, ENOPROTOOPT, EOPNOTSUPP, EMSGSIZE: a kernel
 *     without UDP GSO, a datagram bigger than the route's MTU, a device that
 *     cannot offload checksums), those datagrams are sent again one per
 *     message: nothing is lost or sent twice. A size refusal (EINVAL,
 *     EMSGSIZE: the segment is above what the route takes) lowers the
 *     largest size grouped to just below the refused one for the rest of
 *     the call; any other refusal ends GSO for the call.
 *     gsoOut (at least 2 entries), when given, is written by every call:
 *       gsoOut[0] = datagrams of this call that left inside GSO messages;
 *       gsoOut[1] = the errno with which the kernel refused GSO (0: it did
 *                   not);
 *       gsoOut[2] (when there are 3 entries) = after a refusal, the largest
 *                   size still grouped (pass it as gsoMaxSize from then
 *                   on), or 0: stop asking for GSO on this socket.
 *   close(fd)
 *   copy(dst, dstOffsets, src, srcOffsets, lengths, count)
 *     many ranges from one byte array into another in one call.
 *   alignedBuffer(size) -> ArrayBuffer
 *     `size` zeroed bytes on a 4096-byte boundary, for O_DIRECT writes of
 *     capture files (JavaScript cannot ask for aligned memory).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>

#define MAX_VLEN 256

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
/* Datagrams in one GSO message, and its payload: the kernel takes up to 64
 * segments (128 on newer kernels) and 65,507 bytes of UDP payload. */
#define GSO_MAX_SEGMENTS 64
#define GSO_MAX_BYTES 65000
/* iovecs (one per datagram) for one sendmmsg call. */
#define MAX_IOV 2048

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error;
  const char *name = "EIO";
  switch (err) {
    case EACCES: name = "EACCES"; break;
    case EADDRINUSE: name = "EADDRINUSE"; break;
    case EADDRNOTAVAIL: name = "EADDRNOTAVAIL"; break;
    case EAFNOSUPPORT: name = "EAFNOSUPPORT"; break;
    case EBADF: name = "EBADF"; break;
    case EINVAL: name = "EINVAL"; break;
    case EMFILE: name = "EMFILE"; break;
    case ENFILE: name = "ENFILE"; break;
    case ENOBUFS: name = "ENOBUFS"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case EPERM: name = "EPERM"; break;
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_throw(env, error);
  return NULL;
}

static int fill_sockaddr(int family, const uint8_t *addr, size_t addr_len, uint32_t port,
                         struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == 4) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    if (addr != NULL) {
      if (addr_len != 4) return -1;
      memcpy(&s4->sin_addr, addr, 4);
    }
    *len = sizeof *s4;
    return 0;
  }
  if (family == 6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (addr != NULL) {
      if (addr_len != 16) return -1;
      memcpy(&s6->sin6_addr, addr, 16);
    }
    *len = sizeof *s6;
    return 0;
  }
  return -1;
}

static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset) != napi_ok) return -1;
  if (type != napi_uint8_array) return -1;
  *data = p;
  *len = length;
  return 0;
}

static int get_u32s(napi_env env, napi_value v, uint32_t **data, size_t *len) {
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset) != napi_ok) return -1;
  if (type != napi_uint32_array) return -1;
  *data = p;
  *len = length;
  return 0;
}

static napi_value type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return type_error(env, "open(family, bindAddress, bindPort)");
  int32_t family;
  uint32_t port;
  if (napi_get_value_int32(env, argv[0], &family) != napi_ok || (family != 4 && family != 6))
    return type_error(env, "family must be 4 or 6");
  if (napi_get_value_uint32(env, argv[2], &port) != napi_ok || port > 65535)
    return type_error(env, "bindPort must be 0..65535");
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  uint8_t *bind_addr = NULL;
  size_t bind_len = 0;
  if (t != napi_null && t != napi_undefined && get_bytes(env, argv[1], &bind_addr, &bind_len) != 0)
    return type_error(env, "bindAddress must be a Uint8Array or null");
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int sndbuf = 4 * 1024 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (bind_addr != NULL || port != 0) {
    struct sockaddr_storage ss;
    socklen_t len;
    if (fill_sockaddr(family, bind_addr, bind_len, port, &ss, &len) != 0) {
      close(fd);
      return type_error(env, "bindAddress has the wrong length for the family");
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, "bind", err);
    }
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/* The kernel refused a GSO message for a reason that means GSO cannot be
 * used on this path: send its datagrams one by one instead. A segment larger
 * than the route's MTU is EINVAL on older kernels and EMSGSIZE on newer
 * ones; one datagram of that size still leaves (IP fragments it). */
static int gso_impossible(int err) {
  return err == EINVAL || err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP || err == EMSGSIZE;
}

/* Datagrams from `first` that can leave as one GSO message: a run of equal
 * lengths, then at most one shorter datagram, within the segment and byte
 * limits. 1 means a lone datagram (no GSO). */
static uint32_t gso_group(const uint32_t *lengths, uint32_t first, uint32_t count, uint32_t max_size) {
  uint32_t size = lengths[first];
  if (size == 0 || size > GSO_MAX_BYTES / 2 || (max_size != 0 && size > max_size)) return 1;
  uint32_t n = 1, bytes = size;
  while (first + n < count && n < GSO_MAX_SEGMENTS && lengths[first + n] == size && bytes + size <= GSO_MAX_BYTES) {
    bytes += size;
    n++;
  }
  if (first + n < count && n < GSO_MAX_SEGMENTS && lengths[first + n] > 0 && lengths[first + n] < size &&
      bytes + lengths[first + n] <= GSO_MAX_BYTES)
    n++;
  return n;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 9)
    return type_error(env, "send(fd, family, address, port, data, offsets, lengths, count, errors, gso?, gsoOut?)");
  int32_t fd, family;
  uint32_t port, count, gso = 0, gso_max = 0;
  uint8_t *addr, *data;
  size_t addr_len, data_len, n_off, n_len, n_err, n_gso_out = 0;
  uint32_t *offsets, *lengths, *errors, *gso_out = NULL;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return type_error(env, "fd must be a number");
  if (napi_get_value_int32(env, argv[1], &family) != napi_ok) return type_error(env, "family must be 4 or 6");
  if (get_bytes(env, argv[2], &addr, &addr_len) != 0) return type_error(env, "address must be a Uint8Array");
  if (napi_get_value_uint32(env, argv[3], &port) != napi_ok || port == 0 || port > 65535)
    return type_error(env, "port must be 1..65535");
  if (get_bytes(env, argv[4], &data, &data_len) != 0) return type_error(env, "data must be a Uint8Array");
  if (get_u32s(env, argv[5], &offsets, &n_off) != 0 || get_u32s(env, argv[6], &lengths, &n_len) != 0)
    return type_error(env, "offsets and lengths must be Uint32Arrays");
  if (napi_get_value_uint32(env, argv[7], &count) != napi_ok || count > n_off || count > n_len)
    return type_error(env, "count exceeds offsets or lengths");
  if (get_u32s(env, argv[8], &errors, &n_err) != 0 || n_err < 256)
    return type_error(env, "errors must be a Uint32Array of at least 256 entries");
  if (argc > 9) {
    napi_valuetype t;
    napi_typeof(env, argv[9], &t);
    if (t != napi_undefined && (napi_get_value_uint32(env, argv[9], &gso) != napi_ok || gso > 1))
      return type_error(env, "gso must be 0 or 1");
  }
  if (argc > 10) {
    napi_valuetype t;
    napi_typeof(env, argv[10], &t);
    if (t != napi_undefined && (get_u32s(env, argv[10], &gso_out, &n_gso_out) != 0 || n_gso_out < 2))
      return type_error(env, "gsoOut must be a Uint32Array of at least 2 entries");
  }
  if (argc > 11) {
    napi_valuetype t;
    napi_typeof(env, argv[11], &t);
    if (t != napi_undefined && napi_get_value_uint32(env, argv[11], &gso_max) != napi_ok)
      return type_error(env, "gsoMaxSize must be a number");
  }
  for (uint32_t i = 0; i < count; i++)
    if ((uint64_t)offsets[i] + lengths[i] > data_len) return type_error(env, "a datagram lies outside data");
  struct sockaddr_storage ss;
  socklen_t ss_len;
  if (fill_sockaddr(family, addr, addr_len, port, &ss, &ss_len) != 0)
    return type_error(env, "address has the wrong length for the family");

  struct mmsghdr msgs[MAX_VLEN];
  uint32_t sizes[MAX_VLEN];  /* datagrams in each message */
  struct iovec iovs[MAX_IOV];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } controls[MAX_VLEN];
  uint32_t done = 0, gso_sent = 0, gso_refused = 0;

  if (gso) {
    /* A kernel without UDP GSO (before 4.18) ignores a SOL_UDP cmsg and would
     * send the whole message as one datagram: ask it first. */
    int probe;
    socklen_t probe_len = sizeof probe;
    if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &probe, &probe_len) != 0) {
      gso_refused = (uint32_t)errno;
      gso = 0;
    }
  }

  while (done < count) {
    uint32_t vlen = 0, niov = 0, at = done;
    while (at < count && vlen < MAX_VLEN) {
      uint32_t n = gso ? gso_group(lengths, at, count, gso_max) : 1;
      if (niov + n > MAX_IOV) break;
      struct msghdr *h = &msgs[vlen].msg_hdr;
      memset(h, 0, sizeof *h);
      h->msg_name = &ss;
      h->msg_namelen = ss_len;
      h->msg_iov = &iovs[niov];
      h->msg_iovlen = n;
      for (uint32_t k = 0; k < n; k++) {
        iovs[niov + k].iov_base = data + offsets[at + k];
        iovs[niov + k].iov_len = lengths[at + k];
      }
      if (n > 1) {
        h->msg_control = controls[vlen].buf;
        h->msg_controllen = sizeof controls[vlen].buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t segment = (uint16_t)lengths[at];
        memcpy(CMSG_DATA(c), &segment, sizeof segment);
      }
      sizes[vlen] = n;
      niov += n;
      at += n;
      vlen++;
    }
    int sent = sendmmsg(fd, msgs, vlen, MSG_DONTWAIT);
    if (sent > 0) {
      for (int m = 0; m < sent; m++) {
        if (sizes[m] > 1) gso_sent += sizes[m];
        done += sizes[m];
      }
      continue;
    }
    int err = errno;
    if (sent < 0 && err == EINTR) continue;
    if (sent < 0 && (err == EAGAIN || err == EWOULDBLOCK)) break;
    if (sizes[0] > 1 && gso_impossible(err)) {
      /* Nothing of the refused message left: send the same datagrams again.
       * A size the path cannot take in one segment (EINVAL on older
       * kernels, EMSGSIZE on newer ones: above the route's MTU) lowers the
       * largest size grouped; anything else ends GSO for the call. */
      gso_refused = (uint32_t)err;
      if ((err == EINVAL || err == EMSGSIZE) && lengths[done] > 1)
        gso_max = lengths[done] - 1;
      else
        gso = 0;
      continue;
    }
    // The first message of the call was refused: count its datagrams and go on with the next.
    errors[err > 0 && err < 256 ? err : 0] += sizes[0];
    done += sizes[0];
  }
  if (gso_out != NULL) {
    gso_out[0] = gso_sent;
    gso_out[1] = gso_refused;
    if (n_gso_out >= 3) gso_out[2] = gso ? gso_max : 0;
  }
  napi_value result;
  napi_create_uint32(env, done, &result);
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return type_error(env, "close(fd)");
  close(fd);
  return NULL;
}

static void free_aligned(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* alignedBuffer(size) -> ArrayBuffer of `size` zeroed bytes starting on a
 * 4096-byte boundary (for O_DIRECT writes, which need aligned memory);
 * freed when the ArrayBuffer is collected. */
static napi_value js_aligned(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t size;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &size) != napi_ok || size == 0)
    return type_error(env, "alignedBuffer(size): size must be a positive number");
  void *p = NULL;
  int err = posix_memalign(&p, 4096, size);
  if (err != 0) return throw_errno(env, "alignedBuffer", err);
  memset(p, 0, size);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, size, free_aligned, NULL, &ab) != napi_ok) {
    free(p);
    return throw_errno(env, "alignedBuffer", ENOMEM);
  }
  return ab;
}

/* copy(dst, dstOffsets, src, srcOffsets, lengths, count): copies
 * src[srcOffsets[i], +lengths[i]) to dst[dstOffsets[i]] for i < count, in
 * one call (a VXLAN target gathers a batch's copies so). Every range is
 * checked first: one outside its array throws a RangeError and nothing is
 * copied. */
static napi_value js_copy(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *dst, *src;
  uint32_t *doff, *soff, *lens;
  size_t dlen, slen, ndoff, nsoff, nlens;
  uint32_t count;
  if (argc < 6 || get_bytes(env, argv[0], &dst, &dlen) != 0 || get_u32s(env, argv[1], &doff, &ndoff) != 0 ||
      get_bytes(env, argv[2], &src, &slen) != 0 || get_u32s(env, argv[3], &soff, &nsoff) != 0 ||
      get_u32s(env, argv[4], &lens, &nlens) != 0 || napi_get_value_uint32(env, argv[5], &count) != napi_ok)
    return type_error(env, "copy(dst: Uint8Array, dstOffsets: Uint32Array, src: Uint8Array, srcOffsets: Uint32Array, lengths: Uint32Array, count)");
  if (count > ndoff || count > nsoff || count > nlens) {
    napi_throw_range_error(env, NULL, "copy: count is larger than an offsets or lengths array");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    if ((uint64_t)doff[i] + lens[i] > dlen || (uint64_t)soff[i] + lens[i] > slen) {
      napi_throw_range_error(env, NULL, "copy: a range lies outside its array");
      return NULL;
    }
  }
  for (uint32_t i = 0; i < count; i++) memcpy(dst + doff[i], src + soff[i], lens[i]);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
    {"alignedBuffer", NULL, js_aligned, NULL, NULL, NULL, napi_default, NULL},
    {"copy", NULL, js_copy, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
