//! The backup file: a snapshot of the database sealed under the master key,
//! in chunks, so a file of any size is sealed and opened in constant memory.
//!
//! ```text
//! "CARECHAT-BACKUP1\n"                  magic (17 bytes)
//! u8 n, n bytes                          the master key's id (ASCII)
//! u32 n, n bytes                         the file key, wrapped under the
//!                                        master key (AES-256-GCM, random
//!                                        nonce, the magic as associated data)
//! then chunks: u32 n, n bytes            each up to CHUNK bytes sealed under
//!                                        the file key, with the chunk's index
//!                                        and whether it is the last as
//!                                        associated data
//! ```
//!
//! A chunk moved, dropped, or added after the last one, a file cut short, or
//! one changed byte: the file does not open. Integers are big-endian.

use std::io::{Read, Write};

use crate::envelope::{Keyring, MasterKey, SealError};

const MAGIC: &[u8] = b"CARECHAT-BACKUP1\n";
/// Plaintext bytes per chunk.
const CHUNK: usize = 1 << 20;

/// Why a backup did not open.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a Carechat backup")]
    NotABackup,
    #[error(
        "the backup was sealed under master key {0}, which the key source does not hold \
         (a key retired by a rotation: put it back in the key file, after the current one's line)"
    )]
    UnknownKey(String),
    #[error("the backup is damaged or was changed (it does not open)")]
    Damaged,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<SealError> for BackupError {
    fn from(_: SealError) -> Self {
        BackupError::Damaged
    }
}

fn chunk_ad(index: u64, last: bool) -> Vec<u8> {
    let mut ad = b"carechat backup chunk\0".to_vec();
    ad.extend_from_slice(&index.to_be_bytes());
    ad.push(u8::from(last));
    ad
}

/// Reads up to `buf.len()` bytes, fewer only at the end of `input`.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Seals all of `input` into `output` under `master`.
pub fn seal(
    master: &MasterKey,
    input: &mut impl Read,
    output: &mut impl Write,
) -> std::io::Result<()> {
    let file_key = crate::envelope::random::<32>();
    output.write_all(MAGIC)?;
    let id = master.id().as_bytes();
    output.write_all(&[id.len() as u8])?;
    output.write_all(id)?;
    let wrapped = crate::envelope::seal_with(master.expose(), MAGIC, &file_key);
    output.write_all(&(wrapped.len() as u32).to_be_bytes())?;
    output.write_all(&wrapped)?;
    let mut buf = vec![0u8; CHUNK];
    // One chunk read ahead: the last one is known before it is sealed.
    let mut len = fill(input, &mut buf)?;
    let mut index = 0u64;
    loop {
        let mut next = vec![0u8; CHUNK];
        let next_len = if len == CHUNK {
            fill(input, &mut next)?
        } else {
            0
        };
        let last = next_len == 0;
        let sealed = crate::envelope::seal_with(&file_key, &chunk_ad(index, last), &buf[..len]);
        output.write_all(&(sealed.len() as u32).to_be_bytes())?;
        output.write_all(&sealed)?;
        if last {
            return output.flush();
        }
        buf = next;
        len = next_len;
        index += 1;
    }
}

fn read_u32(input: &mut impl Read) -> Result<Option<u32>, BackupError> {
    let mut b = [0u8; 4];
    match fill(input, &mut b)? {
        0 => Ok(None),
        4 => Ok(Some(u32::from_be_bytes(b))),
        _ => Err(BackupError::Damaged),
    }
}

fn read_exact(input: &mut impl Read, len: usize) -> Result<Vec<u8>, BackupError> {
    // A length no chunk can have is damage, not an allocation to make.
    if len > CHUNK + 64 {
        return Err(BackupError::Damaged);
    }
    let mut v = vec![0u8; len];
    if fill(input, &mut v)? != len {
        return Err(BackupError::Damaged);
    }
    Ok(v)
}

/// The id of the master key a backup was sealed under.
pub fn key_id(input: &mut impl Read) -> Result<String, BackupError> {
    let mut magic = vec![0u8; MAGIC.len()];
    if fill(input, &mut magic)? != MAGIC.len() || magic != MAGIC {
        return Err(BackupError::NotABackup);
    }
    let mut n = [0u8; 1];
    if fill(input, &mut n)? != 1 {
        return Err(BackupError::Damaged);
    }
    String::from_utf8(read_exact(input, usize::from(n[0]))?).map_err(|_| BackupError::Damaged)
}

/// Opens a backup from `input` into `output` with the key of `keyring` it
/// names. Nothing written to `output` is trustworthy unless this returns
/// `Ok` (a damaged chunk stops it part way).
pub fn open(
    keyring: &Keyring,
    input: &mut impl Read,
    output: &mut impl Write,
) -> Result<(), BackupError> {
    let id = key_id(input)?;
    let master = keyring.get(&id).ok_or(BackupError::UnknownKey(id))?;
    let len = read_u32(input)?.ok_or(BackupError::Damaged)?;
    let wrapped = read_exact(input, len as usize)?;
    let file_key: [u8; 32] = crate::envelope::open_with(master.expose(), MAGIC, &wrapped)?
        .try_into()
        .map_err(|_| BackupError::Damaged)?;
    let mut index = 0u64;
    loop {
        let Some(len) = read_u32(input)? else {
            // Ended before a chunk marked last: cut short.
            return Err(BackupError::Damaged);
        };
        let sealed = read_exact(input, len as usize)?;
        let (plain, last) =
            match crate::envelope::open_with(&file_key, &chunk_ad(index, false), &sealed) {
                Ok(p) => (p, false),
                Err(_) => (
                    crate::envelope::open_with(&file_key, &chunk_ad(index, true), &sealed)?,
                    true,
                ),
            };
        output.write_all(&plain)?;
        if last {
            // Nothing may follow the last chunk.
            let mut extra = [0u8; 1];
            if fill(input, &mut extra)? != 0 {
                return Err(BackupError::Damaged);
            }
            output.flush()?;
            return Ok(());
        }
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(master: &MasterKey, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        seal(master, &mut &data[..], &mut out).unwrap();
        out
    }

    fn opened(keyring: &Keyring, file: &[u8]) -> Result<Vec<u8>, BackupError> {
        let mut out = Vec::new();
        open(keyring, &mut &file[..], &mut out).map(|()| out)
    }

    #[test]
    fn a_backup_opens_to_what_was_sealed_at_any_size() {
        let master = MasterKey::random();
        let ring = Keyring::new(vec![master.clone()]).unwrap();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let file = sealed(&master, &data);
            assert_eq!(opened(&ring, &file).unwrap(), data, "size {size}");
            assert_eq!(key_id(&mut &file[..]).unwrap(), master.id());
            if size > 64 {
                let window = &data[..64];
                assert!(
                    !file.windows(64).any(|w| w == window),
                    "plaintext in the file"
                );
            }
        }
    }

    #[test]
    fn a_changed_cut_or_extended_backup_or_the_wrong_key_does_not_open() {
        let master = MasterKey::random();
        let ring = Keyring::new(vec![master.clone()]).unwrap();
        let data = vec![7u8; 2 * CHUNK + 10];
        let file = sealed(&master, &data);
        let damaged = |f: &[u8]| matches!(opened(&ring, f), Err(BackupError::Damaged));
        let mut flipped = file.clone();
        let at = file.len() / 2;
        flipped[at] ^= 1;
        assert!(damaged(&flipped));
        // Cut at a chunk boundary: the chunk marked last is missing.
        let header = MAGIC.len() + 1 + master.id().len() + 4 + 60;
        let first_chunk = 4 + CHUNK + 28;
        assert!(damaged(&file[..header + first_chunk]));
        assert!(damaged(&file[..file.len() - 1]));
        let mut longer = file.clone();
        longer.push(0);
        assert!(damaged(&longer));
        assert!(matches!(
            opened(&ring, b"SQLite format 3\0 and so on"),
            Err(BackupError::NotABackup)
        ));
        let other = Keyring::new(vec![MasterKey::random()]).unwrap();
        assert!(
            matches!(opened(&other, &file), Err(BackupError::UnknownKey(id)) if id == master.id())
        );
        // An older key kept in the keyring still opens what it sealed.
        let rotated = Keyring::new(vec![master.clone(), MasterKey::random()]).unwrap();
        assert_eq!(opened(&rotated, &file).unwrap(), data);
    }
}
