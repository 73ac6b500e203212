//! The finite-field DHE key-exchange messages (RFC 5246 §7.4.3, §7.4.7.2).

use crate::codec::{put_u16, put_vec_u16, CodecError, Reader};
use crate::msgs::enums::HandshakeType;
use crate::msgs::record::HandshakeMessage;

/// RFC 5246 §7.4.3: ServerDHParams (p, g, Ys) and the signature over the randoms and params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DheServerKeyExchange {
    /// dh_p<1..2^16-1>, big-endian.
    pub p: Vec<u8>,
    /// dh_g<1..2^16-1>.
    pub g: Vec<u8>,
    /// dh_Ys<1..2^16-1>: the server's g^b mod p.
    pub server_public: Vec<u8>,
    /// RFC 5246 §7.4.1.4.1 SignatureAndHashAlgorithm, as a TLS 1.3 SignatureScheme value.
    pub signature_scheme: u16,
    pub signature: Vec<u8>,
}

/// Reads one of ServerDHParams' opaque<1..2^16-1> fields; empty is a decode error.
fn read_nonempty<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], CodecError> {
    let v = r.vec_u16(what)?;
    if v.is_empty() {
        return Err(CodecError::IllegalValue {
            what,
            detail: "empty (the minimum length is 1)".into(),
        });
    }
    Ok(v)
}

impl DheServerKeyExchange {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let p = read_nonempty(&mut r, "dh_p")?.to_vec();
        let g = read_nonempty(&mut r, "dh_g")?.to_vec();
        let server_public = read_nonempty(&mut r, "dh_Ys")?.to_vec();
        let signature_scheme = r.u16("signature algorithm")?;
        let signature = r.vec_u16("signature")?.to_vec();
        r.expect_end("ServerKeyExchange")?;
        Ok(Self {
            p,
            g,
            server_public,
            signature_scheme,
            signature,
        })
    }

    /// The ServerDHParams bytes the signature covers (after the two randoms).
    pub fn params(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(6 + self.p.len() + self.g.len() + self.server_public.len());
        put_vec_u16(&mut b, &self.p);
        put_vec_u16(&mut b, &self.g);
        put_vec_u16(&mut b, &self.server_public);
        b
    }

    /// client_random ‖ server_random ‖ ServerDHParams: what the server's RSA key signs
    /// (RFC 5246 §7.4.3).
    pub fn signed_message(&self, client_random: &[u8; 32], server_random: &[u8; 32]) -> Vec<u8> {
        let mut m = Vec::with_capacity(64 + 6 + self.p.len() * 2 + self.g.len());
        m.extend_from_slice(client_random);
        m.extend_from_slice(server_random);
        m.extend_from_slice(&self.params());
        m
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = self.params();
        put_u16(&mut b, self.signature_scheme);
        put_vec_u16(&mut b, &self.signature);
        HandshakeMessage::new(HandshakeType::ServerKeyExchange, &b)
    }
}

/// RFC 5246 §7.4.7.2: ClientDiffieHellmanPublic, explicit: dh_Yc<1..2^16-1> = g^a mod p.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DheClientKeyExchange {
    pub public: Vec<u8>,
}

impl DheClientKeyExchange {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let public = read_nonempty(&mut r, "dh_Yc")?.to_vec();
        r.expect_end("ClientKeyExchange")?;
        Ok(Self { public })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_vec_u16(&mut b, &self.public);
        HandshakeMessage::new(HandshakeType::ClientKeyExchange, &b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DheServerKeyExchange {
        DheServerKeyExchange {
            p: vec![0xff; 256],
            g: vec![2],
            server_public: vec![0x33; 256],
            signature_scheme: 0x0401,
            signature: vec![0x44; 256],
        }
    }

    /// Every encoding, cut at every shorter length, must fail cleanly; so must a trailing byte.
    fn assert_truncations_fail<T: std::fmt::Debug>(
        full: &[u8],
        read: impl Fn(&[u8]) -> Result<T, CodecError>,
    ) {
        for len in 0..full.len() {
            assert!(read(&full[..len]).is_err(), "accepted a {len}-byte prefix");
        }
        let mut long = full.to_vec();
        long.push(0);
        assert!(read(&long).is_err(), "accepted a trailing byte");
    }

    #[test]
    fn server_key_exchange_round_trip_and_truncation() {
        let ske = sample();
        let msg = ske.encode();
        assert_eq!(DheServerKeyExchange::read(msg.body()).unwrap(), ske);
        assert_truncations_fail(msg.body(), DheServerKeyExchange::read);
        // ServerDHParams: 2-byte length before each of p, g, Ys (RFC 5246 §7.4.3).
        assert_eq!(&msg.body()[..2], &[0x01, 0x00]);
        assert_eq!(&msg.body()[258..261], &[0x00, 0x01, 0x02]);
    }

    #[test]
    fn signed_content_is_randoms_then_params() {
        let ske = sample();
        let m = ske.signed_message(&[1; 32], &[2; 32]);
        assert_eq!(&m[..32], &[1; 32]);
        assert_eq!(&m[32..64], &[2; 32]);
        assert_eq!(&m[64..], ske.params().as_slice());
        assert_eq!(m.len(), 64 + 2 + 256 + 2 + 1 + 2 + 256);
    }

    #[test]
    fn client_key_exchange_round_trip_and_truncation() {
        let cke = DheClientKeyExchange {
            public: vec![0x55; 256],
        };
        let msg = cke.encode();
        assert_eq!(DheClientKeyExchange::read(msg.body()).unwrap(), cke);
        assert_truncations_fail(msg.body(), DheClientKeyExchange::read);
    }

    #[test]
    fn empty_values_are_refused() {
        assert!(DheClientKeyExchange::read(&[0, 0]).is_err());
        let mut ske = sample();
        ske.g.clear();
        assert!(DheServerKeyExchange::read(ske.encode().body()).is_err());
    }
}
