//! Output that must wait for the end of a run (the attack table is printed after every session
//! is analysed, then the conversations), held without growing memory with the capture: in
//! memory up to a limit, then in an anonymous temporary file that the system deletes when it is
//! closed (created readable by its owner only: conversations hold recovered passwords).

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

pub struct Spool {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    limit: usize,
    len: u64,
}

impl Spool {
    /// Bytes held in memory before the spool moves to a file.
    pub const DEFAULT_LIMIT: usize = 4 << 20;

    pub fn new(limit: usize) -> Self {
        Self {
            memory: Vec::new(),
            file: None,
            limit,
            len: 0,
        }
    }

    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() + bytes.len() > self.limit {
            let mut file = BufWriter::with_capacity(64 << 10, tempfile::tempfile()?);
            file.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(file) => file.write_all(bytes)?,
            None => self.memory.extend_from_slice(bytes),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes appended so far.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.len
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the spool has moved to a temporary file.
    #[cfg(test)]
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Writes everything appended, in order, to `out`.
    pub fn copy_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        match &mut self.file {
            Some(file) => {
                file.flush()?;
                let file = file.get_mut();
                file.seek(SeekFrom::Start(0))?;
                let copied = io::copy(file, out)?;
                if copied != self.len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("temporary file gave back {copied} of {} bytes", self.len),
                    ));
                }
                Ok(())
            }
            None => out.write_all(&self.memory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_stays_in_memory() {
        let mut spool = Spool::new(100);
        spool.append(b"hello ").unwrap();
        spool.append(b"world").unwrap();
        assert!(!spool.spilled());
        assert_eq!(spool.len(), 11);
        let mut out = Vec::new();
        spool.copy_to(&mut out).unwrap();
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn large_output_moves_to_a_file_and_comes_back_whole_and_in_order() {
        let mut spool = Spool::new(1000);
        let mut expected = Vec::new();
        for i in 0..500u32 {
            let chunk = format!("line {i}: {}\n", "x".repeat((i % 37) as usize));
            spool.append(chunk.as_bytes()).unwrap();
            expected.extend_from_slice(chunk.as_bytes());
        }
        assert!(spool.spilled());
        assert!(spool.memory.is_empty(), "memory released once spilled");
        assert_eq!(spool.len(), expected.len() as u64);
        let mut out = Vec::new();
        spool.copy_to(&mut out).unwrap();
        assert_eq!(out, expected);
    }

    #[test]
    fn an_empty_spool_writes_nothing() {
        let mut spool = Spool::new(0);
        assert!(spool.is_empty());
        let mut out = Vec::new();
        spool.copy_to(&mut out).unwrap();
        assert!(out.is_empty());
        spool.append(b"").unwrap();
        assert!(!spool.spilled());
    }
}
