//! Packet capture for pfslab: a pcap writer that synthesises TCP conversations, a
//! streaming pcap/pcapng reader, zero-copy link/IP/TCP decoding and TCP reassembly. It knows
//! nothing of TLS; the recording relay (the tap) is in `lab`.

mod error;
pub mod packet;
pub mod reader;
pub mod reassembly;
pub mod writer;

pub use error::CaptureError;
pub use packet::{decode, Decoded, SkipReason, TcpFlags, TcpSegment};
pub use reader::{CaptureReader, LinkType, RawPacket, SegmentReader, SkipStats};
pub use reassembly::{
    Connection, EndReason, Gap, HalfStream, Reassembler, ReassemblyConfig, ReassemblyStats, Run,
};
pub use writer::{Direction, PcapWriter, SharedPcapWriter, TcpConversation};

#[cfg(test)]
mod reader_vs_pcap_file;
#[cfg(test)]
mod tests;
