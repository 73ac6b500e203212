//! A memory image: the writable regions of a live process (`/proc/PID/maps` + `/proc/PID/mem`)
//! or of an ELF core file (`gcore`), each with its address range and its name.
//!
//! Only writable regions are read: a secret made at run time lives in the heap, a stack or a
//! writable data segment; read-only mappings (code, constants) hold none.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use zeroize::Zeroize;

/// One region of memory: `[start, end)` and its bytes.
pub struct Region {
    pub start: u64,
    pub end: u64,
    /// The mapping name (`[heap]`, `[stack]`, a file path, `anonymous`), or the core segment's.
    pub name: String,
    pub data: Vec<u8>,
}

impl Drop for Region {
    fn drop(&mut self) {
        // The image holds the victim's secrets; do not leave them in the scanner's heap.
        self.data.zeroize();
    }
}

/// The regions read, and where they came from.
pub struct MemoryImage {
    pub source: String,
    pub regions: Vec<Region>,
    /// Regions listed but not readable (e.g. `[vvar]`), with the reason.
    pub unreadable: Vec<String>,
}

impl MemoryImage {
    pub fn bytes(&self) -> u64 {
        self.regions.iter().map(|r| r.data.len() as u64).sum()
    }

    /// The region that holds `address`.
    pub fn region_of(&self, address: u64) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.start <= address && address < r.end)
    }
}

#[derive(Debug)]
pub enum ImageError {
    /// The kernel refused to let us read the process.
    PermissionDenied {
        pid: u32,
        what: String,
    },
    NoSuchProcess(u32),
    Io(String),
    /// Not an ELF64 little-endian core file, or its headers point outside the file.
    BadCore(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PermissionDenied { pid, what } => write!(
                f,
                "the kernel refuses to let this process read process {pid}'s memory ({what}). Reading another process's memory is a ptrace-class access: run as root (sudo), or give the binary CAP_SYS_PTRACE (sudo setcap cap_sys_ptrace+ep $(which pfslab)), or — for a process you own — allow it with `sudo sysctl kernel.yama.ptrace_scope=0` (Yama; 1 allows only descendants, 3 forbids it entirely until reboot)"
            ),
            Self::NoSuchProcess(pid) => write!(f, "no process {pid}"),
            Self::Io(e) => write!(f, "{e}"),
            Self::BadCore(e) => write!(f, "not a core file pfslab reads: {e}"),
        }
    }
}

impl std::error::Error for ImageError {}

/// Reads the writable mappings of a live process (Linux).
pub fn read_process(pid: u32) -> Result<MemoryImage, ImageError> {
    let maps_path = format!("/proc/{pid}/maps");
    let maps = std::fs::read_to_string(&maps_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ImageError::NoSuchProcess(pid),
        std::io::ErrorKind::PermissionDenied => ImageError::PermissionDenied {
            pid,
            what: format!("{maps_path}: {e}"),
        },
        _ => ImageError::Io(format!("{maps_path}: {e}")),
    })?;
    let mem_path = format!("/proc/{pid}/mem");
    let mut mem = File::open(&mem_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => ImageError::PermissionDenied {
            pid,
            what: format!("{mem_path}: {e}"),
        },
        std::io::ErrorKind::NotFound => ImageError::NoSuchProcess(pid),
        _ => ImageError::Io(format!("{mem_path}: {e}")),
    })?;
    let mut image = MemoryImage {
        source: format!("process {pid}"),
        regions: Vec::new(),
        unreadable: Vec::new(),
    };
    for line in maps.lines() {
        let Some(m) = parse_maps_line(line) else {
            continue;
        };
        if !m.writable {
            continue;
        }
        let mut data = vec![0u8; (m.end - m.start) as usize];
        let read = mem
            .seek(SeekFrom::Start(m.start))
            .and_then(|_| mem.read_exact(&mut data));
        match read {
            Ok(()) => image.regions.push(Region {
                start: m.start,
                end: m.end,
                name: m.name,
                data,
            }),
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied && image.regions.is_empty() =>
            {
                return Err(ImageError::PermissionDenied {
                    pid,
                    what: format!("{mem_path}: {e}"),
                })
            }
            Err(e) => image
                .unreadable
                .push(format!("{:#x}-{:#x} {}: {e}", m.start, m.end, m.name)),
        }
    }
    Ok(image)
}

struct MapsLine {
    start: u64,
    end: u64,
    writable: bool,
    name: String,
}

/// `start-end perms offset dev inode [name]` (proc(5)).
fn parse_maps_line(line: &str) -> Option<MapsLine> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let (_offset, _dev, _inode) = (fields.next()?, fields.next()?, fields.next()?);
    let name = fields.collect::<Vec<_>>().join(" ");
    let (a, b) = range.split_once('-')?;
    let start = u64::from_str_radix(a, 16).ok()?;
    let end = u64::from_str_radix(b, 16).ok()?;
    if end <= start || end - start > (1 << 34) {
        return None;
    }
    Some(MapsLine {
        start,
        end,
        writable: perms.as_bytes().get(1) == Some(&b'w'),
        name: if name.is_empty() {
            "anonymous".into()
        } else {
            name
        },
    })
}

/// Reads the writable PT_LOAD segments of an ELF64 little-endian core file, named by the NT_FILE
/// note when the segment maps a file (ELF gABI program headers; Linux `NT_FILE` = 0x46494c45).
pub fn read_core(path: &Path) -> Result<MemoryImage, ImageError> {
    let file =
        std::fs::read(path).map_err(|e| ImageError::Io(format!("{}: {e}", path.display())))?;
    let bad = |what: &str| ImageError::BadCore(format!("{}: {what}", path.display()));
    if file.get(..4) != Some(b"\x7fELF") {
        return Err(bad("no ELF magic"));
    }
    if file.get(4) != Some(&2) || file.get(5) != Some(&1) {
        return Err(bad("not a 64-bit little-endian ELF file"));
    }
    if u16_at(&file, 16) != Some(4) {
        return Err(bad("ELF type is not ET_CORE (4)"));
    }
    let phoff = u64_at(&file, 0x20).ok_or_else(|| bad("truncated header"))? as usize;
    let phentsize = u16_at(&file, 0x36).ok_or_else(|| bad("truncated header"))? as usize;
    let phnum = u16_at(&file, 0x38).ok_or_else(|| bad("truncated header"))? as usize;
    if phentsize < 56 {
        return Err(bad("program header entries shorter than 56 bytes"));
    }
    let mut loads = Vec::new();
    let mut files = Vec::new();
    for i in 0..phnum {
        let h = phoff + i * phentsize;
        let field =
            |o: usize| u64_at(&file, h + o).ok_or_else(|| bad("program header outside the file"));
        let p_type = u32_at(&file, h).ok_or_else(|| bad("program header outside the file"))?;
        let flags = u32_at(&file, h + 4).ok_or_else(|| bad("program header outside the file"))?;
        let (offset, vaddr, filesz, memsz) = (field(8)?, field(16)?, field(32)?, field(40)?);
        match p_type {
            1 if flags & 2 != 0 && filesz > 0 => loads.push((offset, vaddr, filesz, memsz)),
            4 => {
                let notes = file
                    .get(offset as usize..(offset.saturating_add(filesz)) as usize)
                    .ok_or_else(|| bad("PT_NOTE outside the file"))?;
                files.extend(nt_file_entries(notes));
            }
            _ => {}
        }
    }
    let mut image = MemoryImage {
        source: format!("core file {}", path.display()),
        regions: Vec::new(),
        unreadable: Vec::new(),
    };
    for (offset, vaddr, filesz, memsz) in loads {
        let Some(data) = file.get(offset as usize..offset.saturating_add(filesz) as usize) else {
            image.unreadable.push(format!(
                "{vaddr:#x}: segment runs past the end of the file (truncated core)"
            ));
            continue;
        };
        let name = files
            .iter()
            .find(|(s, e, _)| *s <= vaddr && vaddr < *e)
            .map(|(_, _, n)| n.clone())
            .unwrap_or_else(|| "anonymous (heap, stack or anonymous mapping)".into());
        image.regions.push(Region {
            start: vaddr,
            end: vaddr + memsz.max(filesz),
            name,
            data: data.to_vec(),
        });
    }
    let mut file = file;
    file.zeroize();
    Ok(image)
}

/// The (start, end, path) triples of an NT_FILE note, if the notes hold one.
fn nt_file_entries(notes: &[u8]) -> Vec<(u64, u64, String)> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let (Some(namesz), Some(descsz), Some(typ)) = (
        u32_at(notes, at),
        u32_at(notes, at + 4),
        u32_at(notes, at + 8),
    ) {
        let name_end = at + 12 + (namesz as usize).next_multiple_of(4);
        let desc_end = name_end + (descsz as usize).next_multiple_of(4);
        if typ == 0x4649_4c45 {
            if let Some(desc) = notes.get(name_end..name_end + descsz as usize) {
                out.extend(parse_nt_file(desc));
            }
        }
        if desc_end <= at || desc_end > notes.len() {
            break;
        }
        at = desc_end;
    }
    out
}

fn parse_nt_file(desc: &[u8]) -> Vec<(u64, u64, String)> {
    let Some(count) = u64_at(desc, 0) else {
        return Vec::new();
    };
    let count = count.min(1 << 20) as usize;
    let names_at = 16 + count * 24;
    let mut names = desc.get(names_at..).unwrap_or_default().split(|b| *b == 0);
    (0..count)
        .map_while(|i| {
            let e = 16 + i * 24;
            Some((
                u64_at(desc, e)?,
                u64_at(desc, e + 8)?,
                String::from_utf8_lossy(names.next()?).into_owned(),
            ))
        })
        .collect()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_parse() {
        let m = parse_maps_line(
            "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]",
        )
        .unwrap();
        assert_eq!(
            (m.start, m.end, m.writable, m.name.as_str()),
            (0x55d0c0a00000, 0x55d0c0a21000, true, "[heap]")
        );
        let m = parse_maps_line("7f00 r--p 0 0 0").is_none();
        assert!(m);
        let m = parse_maps_line("7000-8000 r-xp 00000000 08:01 1234 /usr/bin/x y").unwrap();
        assert!(!m.writable);
        assert_eq!(m.name, "/usr/bin/x y");
    }

    #[test]
    fn cores_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("core");
        std::fs::write(&p, b"\x7fELF\x02\x01").unwrap();
        assert!(matches!(read_core(&p), Err(ImageError::BadCore(_))));
        std::fs::write(&p, b"not elf").unwrap();
        assert!(matches!(read_core(&p), Err(ImageError::BadCore(_))));
    }
}
