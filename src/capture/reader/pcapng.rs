//! pcapng blocks for [`CaptureReader`]: Section Header, Interface Description, and the
//! Enhanced, Simple and obsolete Packet blocks; every other block is skipped unread.

use std::io::{self, Read};
use std::time::Duration;

use super::{CaptureReader, Format, LinkType, Meta, MAX_PACKET};
use crate::capture::CaptureError;

/// Largest pcapng block that is buffered (packet blocks, interface and section headers).
const MAX_BLOCK: u32 = MAX_PACKET + 65_536;

#[derive(Clone, Copy, Debug)]
pub(super) struct Interface {
    pub(super) link: LinkType,
    /// Timestamp units per second is 10^n (`false`) or 2^n (`true`), RFC draft pcapng §4.2.
    tsresol_pow2: bool,
    tsresol_exp: u8,
    tsoffset: i64,
}

impl<R: Read> CaptureReader<R> {
    pub(super) fn next_pcapng(&mut self) -> Result<Option<Meta>, CaptureError> {
        loop {
            if self.fill_or_eof(8, "block header")? == 0 {
                return Ok(None);
            }
            if self.head4() == [0x0a, 0x0d, 0x0d, 0x0a] {
                self.read_shb_rest()?;
                continue;
            }
            let be = self.big_endian();
            let btype = self.u32_at(0, be);
            let blen = self.u32_at(4, be);
            if blen < 12 || !blen.is_multiple_of(4) {
                return Err(self.malformed(format!(
                    "block length {blen} is not a multiple of 4 of at least 12"
                )));
            }
            match btype {
                // Interface Description, obsolete Packet, Simple Packet, Enhanced Packet.
                1 | 2 | 3 | 6 => {
                    if blen > MAX_BLOCK {
                        return Err(
                            self.malformed(format!("block length {blen} exceeds {MAX_BLOCK}"))
                        );
                    }
                    self.fill(blen as usize, "block body")?;
                    self.check_trailer(blen, be)?;
                    let start = self.offset;
                    self.offset += u64::from(blen);
                    let meta = match btype {
                        1 => {
                            self.parse_idb(be, start)?;
                            continue;
                        }
                        2 => self.parse_packet_block(be, start, blen)?,
                        3 => self.parse_simple_block(be, start, blen)?,
                        _ => self.parse_epb(be, start, blen)?,
                    };
                    return Ok(Some(meta));
                }
                _ => {
                    // Unneeded block: skip without buffering it.
                    let rest = u64::from(blen) - 8;
                    let skipped = io::copy(&mut (&mut self.src).take(rest), &mut io::sink())
                        .map_err(|e| CaptureError::io(&self.path, "read", e))?;
                    if skipped < rest {
                        return Err(self.truncated("block body", u64::from(blen), 8 + skipped));
                    }
                    self.offset += u64::from(blen);
                }
            }
        }
    }

    /// Section Header Block: byte-order magic decides the endianness of the section.
    pub(super) fn read_shb_rest(&mut self) -> Result<(), CaptureError> {
        self.fill(12, "section header")?;
        let big_endian = match self.buf.get(8..12) {
            Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
            Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
            _ => return Err(self.malformed("bad section byte-order magic".into())),
        };
        self.format = Format::PcapNg { big_endian };
        let blen = self.u32_at(4, big_endian);
        if !(28..=MAX_BLOCK).contains(&blen) || !blen.is_multiple_of(4) {
            return Err(self.malformed(format!("section header length {blen} is impossible")));
        }
        self.fill(blen as usize, "section header")?;
        self.check_trailer(blen, big_endian)?;
        self.offset += u64::from(blen);
        self.interfaces.clear();
        Ok(())
    }

    fn parse_idb(&mut self, be: bool, start: u64) -> Result<(), CaptureError> {
        let body_end = self.buf.len().saturating_sub(4);
        let link = match self.buf.get(8..10) {
            Some(b) => LinkType(u32::from(u16_from(b, be))),
            None => return Err(self.malformed_at(start, "interface description too short".into())),
        };
        let mut iface = Interface {
            link,
            tsresol_pow2: false,
            tsresol_exp: 6,
            tsoffset: 0,
        };
        let mut pos = 16;
        while let Some(h) = self.buf.get(pos..pos + 4).filter(|_| pos + 4 <= body_end) {
            let code = u16_from(&h[0..2], be);
            let len = usize::from(u16_from(&h[2..4], be));
            let val = self
                .buf
                .get(pos + 4..pos + 4 + len)
                .filter(|_| pos + 4 + len <= body_end);
            match (code, val) {
                (0, _) => break,
                (9, Some([v])) => {
                    iface.tsresol_pow2 = v & 0x80 != 0;
                    iface.tsresol_exp = v & 0x7f;
                }
                (14, Some(v)) if v.len() == 8 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(v);
                    iface.tsoffset = if be {
                        i64::from_be_bytes(a)
                    } else {
                        i64::from_le_bytes(a)
                    };
                }
                (_, None) => {
                    return Err(self.malformed_at(
                        start,
                        format!("interface option {code} overruns the block"),
                    ))
                }
                _ => {}
            }
            pos += 4 + len.div_ceil(4) * 4;
        }
        self.interfaces.push(iface);
        Ok(())
    }

    /// Enhanced Packet Block (32-bit interface ID).
    fn parse_epb(&mut self, be: bool, start: u64, blen: u32) -> Result<Meta, CaptureError> {
        let iface_id = self.u32_at(8, be);
        self.parse_timestamped_block(be, start, blen, iface_id, "enhanced packet block")
    }

    /// Obsolete Packet Block: a 16-bit interface ID and a drops count, otherwise laid out as
    /// an Enhanced Packet Block.
    fn parse_packet_block(
        &mut self,
        be: bool,
        start: u64,
        blen: u32,
    ) -> Result<Meta, CaptureError> {
        let iface_id = u32::from(u16_from(self.buf.get(8..10).unwrap_or(&[0, 0]), be));
        self.parse_timestamped_block(be, start, blen, iface_id, "packet block")
    }

    /// The shared body of both: timestamp, captured and original lengths, data.
    fn parse_timestamped_block(
        &mut self,
        be: bool,
        start: u64,
        blen: u32,
        iface_id: u32,
        what: &str,
    ) -> Result<Meta, CaptureError> {
        if blen < 32 {
            return Err(self.malformed_at(start, format!("{what} too short")));
        }
        let units = (u64::from(self.u32_at(12, be)) << 32) | u64::from(self.u32_at(16, be));
        let caplen = self.u32_at(20, be);
        let orig = self.u32_at(24, be);
        let end = 28 + caplen as usize;
        if end > blen as usize - 4 {
            return Err(self.malformed_at(
                start,
                format!("captured length {caplen} overruns the block"),
            ));
        }
        let iface = self.interface(iface_id, start)?;
        Ok(Meta {
            ts: iface.ts(units),
            link: iface.link,
            interface: iface_id,
            orig_len: orig,
            data_start: 28,
            data_end: end,
        })
    }

    /// Simple Packet Block: interface 0, no timestamp; captured length is the smaller of
    /// the original length and the block body.
    fn parse_simple_block(
        &mut self,
        be: bool,
        start: u64,
        blen: u32,
    ) -> Result<Meta, CaptureError> {
        if blen < 16 {
            return Err(self.malformed_at(start, "simple packet block too short".into()));
        }
        let orig = self.u32_at(8, be);
        let room = blen as usize - 16;
        let end = 12 + room.min(orig as usize);
        let iface = self.interface(0, start)?;
        Ok(Meta {
            ts: Duration::ZERO,
            link: iface.link,
            interface: 0,
            orig_len: orig,
            data_start: 12,
            data_end: end,
        })
    }

    fn interface(&self, id: u32, start: u64) -> Result<Interface, CaptureError> {
        match self.interfaces.get(id as usize) {
            Some(i) => Ok(*i),
            None => Err(self.malformed_at(
                start,
                format!("packet names interface {id}, which was not described"),
            )),
        }
    }

    fn check_trailer(&self, blen: u32, be: bool) -> Result<(), CaptureError> {
        let trailer = self.u32_at(blen as usize - 4, be);
        if trailer != blen {
            return Err(self.malformed(format!(
                "block trailer length {trailer} differs from header length {blen}"
            )));
        }
        Ok(())
    }
}

impl Interface {
    /// Converts timestamp units to time since the epoch (if_tsresol, if_tsoffset).
    fn ts(&self, units: u64) -> Duration {
        let units = u128::from(units);
        let nanos: u128 = if self.tsresol_pow2 {
            let exp = u32::from(self.tsresol_exp.min(64));
            (units * 1_000_000_000) >> exp
        } else {
            let exp = u32::from(self.tsresol_exp);
            if exp <= 9 {
                units * 10u128.pow(9 - exp)
            } else {
                units / 10u128.pow(exp.min(38) - 9)
            }
        };
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        let sub = (nanos % 1_000_000_000) as u32;
        let secs = secs.checked_add_signed(self.tsoffset).unwrap_or(secs);
        Duration::new(secs, sub)
    }
}

fn u16_from(b: &[u8], be: bool) -> u16 {
    match b {
        [x, y, ..] => {
            if be {
                u16::from_be_bytes([*x, *y])
            } else {
                u16::from_le_bytes([*x, *y])
            }
        }
        _ => 0,
    }
}
