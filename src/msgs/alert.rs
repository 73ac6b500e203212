//! RFC 5246 §7.2 alerts.

use crate::codec::{CodecError, Reader};
use crate::msgs::enums::AlertDescription;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertLevel {
    Warning,
    Fatal,
    Unknown(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub level: AlertLevel,
    pub description: AlertDescription,
}

impl Alert {
    pub fn fatal(description: AlertDescription) -> Self {
        Self {
            level: AlertLevel::Fatal,
            description,
        }
    }

    pub fn close_notify() -> Self {
        Self {
            level: AlertLevel::Warning,
            description: AlertDescription::CloseNotify,
        }
    }

    pub fn read(payload: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(payload);
        let level = match r.u8("alert level")? {
            1 => AlertLevel::Warning,
            2 => AlertLevel::Fatal,
            x => AlertLevel::Unknown(x),
        };
        let description = AlertDescription::from_wire(r.u8("alert description")?);
        r.expect_end("alert")?;
        Ok(Self { level, description })
    }

    pub fn encode(&self) -> [u8; 2] {
        let level = match self.level {
            AlertLevel::Warning => 1,
            AlertLevel::Fatal => 2,
            AlertLevel::Unknown(x) => x,
        };
        [level, self.description.to_wire()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let a = Alert::fatal(AlertDescription::BadRecordMac);
        assert_eq!(a.encode(), [2, 20]);
        assert_eq!(Alert::read(&a.encode()).unwrap(), a);
        assert!(Alert::read(&[2]).is_err());
        assert!(Alert::read(&[]).is_err());
        assert!(Alert::read(&[2, 20, 0]).is_err());
    }
}
