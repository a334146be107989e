/**
 * Copies leave as Ethernet frames, as AWS Traffic Mirroring delivers them, so
 * mirror targets such as Suricata, Zeek or tshark decode them unchanged. A
 * packet captured without an Ethernet header (raw IP, Linux cooked capture,
 * BSD loopback) gets a synthetic one with fixed, locally administered MACs:
 *
 *   destination 02:73:6e:00:00:02, source 02:73:6e:00:00:01
 *
 * and the EtherType of what it carries (IPv4 0x0800, IPv6 0x86dd).
 */

/** Source MAC of synthetic Ethernet headers (locally administered, "sn"). */
export const SYNTHETIC_SOURCE_MAC = '02:73:6e:00:00:01';
/** Destination MAC of synthetic Ethernet headers. */
export const SYNTHETIC_DESTINATION_MAC = '02:73:6e:00:00:02';
const SYNTHETIC_MACS = Uint8Array.of(0x02, 0x73, 0x6e, 0x00, 0x00, 0x02, 0x02, 0x73, 0x6e, 0x00, 0x00, 0x01);

export const ETHERNET_HEADER_LENGTH = 14;

/** How to turn a packet into an Ethernet frame; filled in place by {@link ethernetFraming}. */
export interface EthernetFraming {
  /** Bytes of the original link-layer header to leave out. */
  skip: number;
  /** EtherType of the synthetic header to put in front, or -1 when the packet is Ethernet already. */
  etherType: number;
}

/**
 * Decide how packet `data[offset, offset+length)` of `linkType` becomes an
 * Ethernet frame. Returns false when it cannot (unknown link type, not IP).
 */
export function ethernetFraming(
  linkType: number,
  data: Uint8Array,
  offset: number,
  length: number,
  out: EthernetFraming,
): boolean {
  out.skip = 0;
  out.etherType = -1;
  switch (linkType) {
    case 1: // LINKTYPE_ETHERNET
      return length >= ETHERNET_HEADER_LENGTH;
    case 101: // LINKTYPE_RAW: version nibble decides
    case 12:
    case 14:
      if (length < 1) return false;
      out.etherType = ipEtherType(data[offset] >> 4);
      return out.etherType >= 0;
    case 228: // LINKTYPE_IPV4
      out.etherType = 0x0800;
      return length > 0;
    case 229: // LINKTYPE_IPV6
      out.etherType = 0x86dd;
      return length > 0;
    case 113: // LINKTYPE_LINUX_SLL: 16-byte header, protocol at 14
      if (length < 16) return false;
      out.skip = 16;
      out.etherType = (data[offset + 14] << 8) | data[offset + 15];
      return true;
    case 276: // LINKTYPE_LINUX_SLL2: 20-byte header, protocol first
      if (length < 20) return false;
      out.skip = 20;
      out.etherType = (data[offset] << 8) | data[offset + 1];
      return true;
    case 0: {
      // LINKTYPE_NULL: 4-byte address family in the capturing host's byte order.
      if (length < 5) return false;
      out.skip = 4;
      out.etherType = ipEtherType(data[offset + 4] >> 4);
      return out.etherType >= 0;
    }
    default:
      return false;
  }
}

function ipEtherType(version: number): number {
  return version === 4 ? 0x0800 : version === 6 ? 0x86dd : -1;
}

/** Write the synthetic Ethernet header for `etherType` at `buf[offset]`. */
export function writeSyntheticEthernet(buf: Uint8Array, offset: number, etherType: number): void {
  buf.set(SYNTHETIC_MACS, offset);
  buf[offset + 12] = etherType >> 8;
  buf[offset + 13] = etherType & 0xff;
}
