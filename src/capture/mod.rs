//! Packet capture for pfslab: a pcap writer that synthesises TCP conversations, a
//! streaming pcap/pcapng reader, zero-copy link/IP/TCP decoding, TCP reassembly, and a
//! recording TCP relay (the tap).

mod error;
pub mod packet;
pub mod reader;
pub mod reassembly;
pub mod tap;
pub mod writer;

pub use error::CaptureError;
pub use packet::{decode, Decoded, SkipReason, TcpFlags, TcpSegment};
pub use reader::{CaptureReader, LinkType, RawPacket, SegmentReader, SkipStats};
pub use reassembly::{
    Connection, EndReason, Gap, HalfStream, Reassembler, ReassemblyConfig, ReassemblyStats, Run,
};
pub use tap::{
    default_virtual_addrs, AddrFn, DeterministicConfig, Tap, TapConfig, TapMode, TapSummary,
};
pub use writer::{Direction, PcapWriter, SharedPcapWriter, TcpConversation};

#[cfg(test)]
mod tests;
