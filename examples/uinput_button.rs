//! A virtual reset button for tests on a real kernel (scripts/vm-test.sh): creates a uinput
//! device that reports KEY_RESTART (or `--key CODE`, named `--name NAME`: the qnap8528
//! driver's device is `qnap8528` with BTN_2, 0x102), presses and holds it for each duration
//! given (ms), one second apart, then removes the device.
//!
//!     uinput_button 500 3500 10500
//!     uinput_button --name qnap8528 --key 0x102 500 3500 10500
//!
//! ioctls and structures: include/uapi/linux/uinput.h (UI_SET_EVBIT, UI_SET_KEYBIT,
//! UI_DEV_SETUP with `struct uinput_setup`, UI_DEV_CREATE, UI_DEV_DESTROY). The kernel
//! stamps each event as it is written, so the hold is the time between the two writes.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

use qrescue::watch::records::{EV_KEY, EV_SYN, InputEvent, InputLayout, KEY_RESTART, SYN_REPORT};

#[repr(C)]
struct UinputSetup {
    bustype: u16,
    vendor: u16,
    product: u16,
    version: u16,
    name: [u8; 80],
    ff_effects_max: u32,
}

nix::ioctl_write_int!(ui_set_evbit, b'U', 100);
nix::ioctl_write_int!(ui_set_keybit, b'U', 101);
nix::ioctl_write_ptr!(ui_dev_setup, b'U', 3, UinputSetup);
nix::ioctl_none!(ui_dev_create, b'U', 1);
nix::ioctl_none!(ui_dev_destroy, b'U', 2);

fn emit(f: &mut std::fs::File, kind: u16, code: u16, value: i32) {
    let e = InputEvent {
        sec: 0,
        usec: 0,
        kind,
        code,
        value,
    };
    f.write_all(&e.encode(InputLayout::native()))
        .expect("write to uinput");
}

fn main() {
    let mut name = "qrescue virtual reset button".to_string();
    let mut key = KEY_RESTART;
    let mut holds: Vec<u64> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--name" => name = args.next().expect("--name NAME"),
            "--key" => {
                key = qrescue::watch::parse_key(&args.next().expect("--key CODE")).expect("key")
            }
            _ => holds.push(a.parse().expect("hold in ms")),
        }
    }
    assert!(name.len() < 80, "uinput names are at most 79 bytes");
    let mut f = OpenOptions::new()
        .write(true)
        .open("/dev/uinput")
        .expect("open /dev/uinput (modprobe uinput)");
    let fd = f.as_raw_fd();
    let mut setup = UinputSetup {
        bustype: 0x19,  // BUS_HOST
        vendor: 0x1c04, // QNAP's USB vendor id, for realism only
        product: 0x0001,
        version: 1,
        name: [0; 80],
        ff_effects_max: 0,
    };
    setup.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: each ioctl gets the uinput fd we own and, for UI_DEV_SETUP, a pointer to a
    // live struct laid out as `struct uinput_setup` (92 bytes, checked below).
    unsafe {
        assert_eq!(std::mem::size_of::<UinputSetup>(), 92);
        ui_set_evbit(fd, EV_KEY as _).expect("UI_SET_EVBIT");
        ui_set_keybit(fd, key as _).expect("UI_SET_KEYBIT");
        ui_dev_setup(fd, &setup).expect("UI_DEV_SETUP");
        ui_dev_create(fd).expect("UI_DEV_CREATE");
    }
    println!("uinput_button: device {name:?} created, key {key:#x}");
    // Give the watcher time to find the new device.
    std::thread::sleep(Duration::from_secs(2));
    for h in holds {
        emit(&mut f, EV_KEY, key, 1);
        emit(&mut f, EV_SYN, SYN_REPORT, 0);
        std::thread::sleep(Duration::from_millis(h));
        emit(&mut f, EV_KEY, key, 0);
        emit(&mut f, EV_SYN, SYN_REPORT, 0);
        println!("uinput_button: held {h} ms");
        std::thread::sleep(Duration::from_secs(1));
    }
    // SAFETY: UI_DEV_DESTROY on the uinput fd we own.
    unsafe { ui_dev_destroy(fd) }.expect("UI_DEV_DESTROY");
    println!("uinput_button: device removed");
}
