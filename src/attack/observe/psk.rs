//! What the TLS 1.3 hellos said about a PSK (RFC 8446 §4.2.9–4.2.11), as it crossed the wire.

use crate::msgs::enums::PskKeyExchangeMode;
use crate::msgs::handshake13::OfferedPsks;

/// A TLS 1.3 PSK offer and the server's answer, as they crossed the wire in clear.
#[derive(Debug, Clone, Default)]
pub struct ObservedPsk {
    /// psk_key_exchange_modes of the (last) ClientHello.
    pub modes: Vec<PskKeyExchangeMode>,
    /// pre_shared_key of the (last) ClientHello: identities (tickets, in clear) and binders.
    pub offered: Option<OfferedPsks>,
    /// The ServerHello's selected_identity.
    pub selected: Option<u16>,
    /// Whether the ServerHello carries a key_share: psk_dhe_ke when a PSK was selected.
    pub server_key_share: bool,
    /// The transcript the binders are computed over (RFC 8446 §4.2.11.2): the last ClientHello
    /// up to its binders, after message_hash(first ClientHello) and the HelloRetryRequest when
    /// the server asked for a retry. Empty when it cannot be cut.
    pub binder_transcript: Vec<u8>,
}

impl ObservedPsk {
    /// The identity (a ticket) the server selected.
    pub fn selected_identity(&self) -> Option<&[u8]> {
        let offered = self.offered.as_ref()?;
        offered
            .identities
            .get(usize::from(self.selected?))
            .map(|i| i.identity.as_slice())
    }

    /// The binder of the selected identity.
    pub fn selected_binder(&self) -> Option<&[u8]> {
        let offered = self.offered.as_ref()?;
        offered
            .binders
            .get(usize::from(self.selected?))
            .map(Vec::as_slice)
    }
}
