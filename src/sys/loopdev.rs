//! A read-only loop device over one md member, to read the filesystem that starts at its
//! offset 0 (metadata 1.0/0.90) without assembling anything. The backing device is opened
//! read-only, so the loop device is read-only in the block layer: no write can reach the
//! disk, whatever the filesystem does. Autoclear frees it when its last user goes away
//! (the unmount, or the process's death).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `struct loop_info64` (include/uapi/linux/loop.h).
#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

const LO_FLAGS_AUTOCLEAR: u32 = 4;

nix::ioctl_none_bad!(loop_ctl_get_free, 0x4C82);
nix::ioctl_write_int_bad!(loop_set_fd, 0x4C00);
nix::ioctl_write_ptr_bad!(loop_set_status64, 0x4C04, LoopInfo64);
nix::ioctl_none_bad!(loop_clr_fd, 0x4C01);

/// A read-only loop device; it goes away when its last user (a mount) does.
#[derive(Debug)]
pub struct ReadOnlyLoop {
    pub path: PathBuf,
    _dev: File,
}

impl ReadOnlyLoop {
    /// Attach `backing` read-only to a free loop device.
    pub fn attach(backing: &Path) -> Result<ReadOnlyLoop> {
        let err = |what: &str, e: nix::Error| Error::io(format!("loop device ({what})"), e);
        let file = File::open(backing).map_err(|e| Error::io(backing.display(), e))?;
        let ctl = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .map_err(|e| Error::io("/dev/loop-control", e))?;
        for _ in 0..8 {
            // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a number.
            let n =
                unsafe { loop_ctl_get_free(ctl.as_raw_fd()) }.map_err(|e| err("get free", e))?;
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let dev = OpenOptions::new()
                .read(true)
                .open(&path)
                .map_err(|e| Error::io(path.display(), e))?;
            // SAFETY: LOOP_SET_FD takes a file descriptor by value; `file` outlives the call.
            match unsafe { loop_set_fd(dev.as_raw_fd(), file.as_raw_fd()) } {
                Ok(_) => {}
                // Taken by someone else between GET_FREE and SET_FD: try the next one.
                Err(nix::errno::Errno::EBUSY) => continue,
                Err(e) => return Err(err("attach", e)),
            }
            let mut info: LoopInfo64 = LoopInfo64 {
                device: 0,
                inode: 0,
                rdevice: 0,
                offset: 0,
                sizelimit: 0,
                number: 0,
                encrypt_type: 0,
                encrypt_key_size: 0,
                flags: LO_FLAGS_AUTOCLEAR,
                file_name: [0; 64],
                crypt_name: [0; 64],
                encrypt_key: [0; 32],
                init: [0; 2],
            };
            let name = b"qrescue";
            info.file_name[..name.len()].copy_from_slice(name);
            // SAFETY: `info` is a valid loop_info64 that lives across the call.
            if let Err(e) = unsafe { loop_set_status64(dev.as_raw_fd(), &info) } {
                // SAFETY: LOOP_CLR_FD takes no argument; detaches what we just attached.
                let _ = unsafe { loop_clr_fd(dev.as_raw_fd()) };
                return Err(err("autoclear", e));
            }
            return Ok(ReadOnlyLoop { path, _dev: dev });
        }
        Err(Error::io(
            "loop device",
            std::io::Error::other("no free loop device"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testkit;

    /// The loop device is read-only in the block layer (not only the mount over it): the
    /// kernel says so in sysfs and refuses a write to it; it carries autoclear and
    /// its backing file, and frees itself when its last user closes it.
    #[test]
    #[ignore = "needs root, loop devices and mke2fs"]
    fn the_loop_device_is_read_only_and_frees_itself() {
        let test = "the_loop_device_is_read_only_and_frees_itself";
        if !testkit::needs(test, &testkit::EXT3_ON_LOOP) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let image = testkit::ext3_image(dir.path(), false);
        let before = std::fs::read(&image).unwrap();
        let lo = ReadOnlyLoop::attach(&image).unwrap();
        let name = lo.path.file_name().unwrap().to_str().unwrap().to_string();
        let sys = |what: &str| {
            let path = format!("/sys/block/{name}/{what}");
            std::fs::read_to_string(path).map(|s| s.trim_end().to_string())
        };
        assert_eq!(sys("ro").unwrap(), "1");
        assert_eq!(sys("loop/autoclear").unwrap(), "1");
        assert_eq!(sys("loop/offset").unwrap(), "0");
        let backing = std::fs::canonicalize(&image).unwrap();
        assert_eq!(sys("loop/backing_file").unwrap(), backing.to_str().unwrap());
        // Refused when opened for writing, or at the write (blkdev_write_iter: EPERM).
        let refused = match OpenOptions::new().write(true).open(&lo.path) {
            Err(e) => e,
            Ok(mut dev) => std::io::Write::write(&mut dev, &[0; 512]).unwrap_err(),
        };
        let errno = refused.raw_os_error().unwrap_or_default();
        let expected = [nix::libc::EROFS, nix::libc::EACCES, nix::libc::EPERM];
        assert!(expected.contains(&errno), "{refused}");
        let dev = lo.path.clone();
        drop(lo);
        assert!(testkit::until_detached(&dev), "{name} still attached");
        assert!(
            std::fs::read(&image).unwrap() == before,
            "the image changed"
        );
    }
}
