//! Atomics for ARMv5TE (QNAP arm-x19: Marvell Kirkwood), through the Linux kernel's user
//! helpers. Compiled only for armv4t/armv5te targets (cfg set by build.rs).
//!
//! ARMv5TE has no LDREX/STREX, so LLVM lowers Rust's atomics to `__sync_*` calls. Rust's
//! compiler-builtins implements them with the kernel helpers, but as of Rust 1.95 with
//! `-Z build-std` it leaves them mangled (not exported), and the link fails with
//! "undefined symbol: __sync_val_compare_and_swap_4". These are the same functions, on the
//! same kernel ABI: Documentation/arch/arm/kernel_user_helpers.rst (Linux) — every ARM
//! process has `__kuser_cmpxchg` at 0xffff0fc0 and `__kuser_memory_barrier` at 0xffff0fa0,
//! and the cmpxchg helper includes the barriers SMP needs. qemu-arm provides them too.

use core::ptr::read_volatile;

const KUSER_CMPXCHG: usize = 0xffff_0fc0;
const KUSER_MEMORY_BARRIER: usize = 0xffff_0fa0;

/// `__kuser_cmpxchg(oldval, newval, ptr)`: 0 when `*ptr` was `oldval` and is now `newval`.
fn kuser_cmpxchg(old: u32, new: u32, ptr: *mut u32) -> bool {
    // SAFETY: the kernel maps this helper at this fixed address in every ARM process
    // (CONFIG_KUSER_HELPERS, on by default and on every QNAP ARMv5 kernel); its ABI is
    // `int (*)(int oldval, int newval, volatile int *ptr)` with the C calling convention.
    let f: extern "C" fn(u32, u32, *mut u32) -> i32 =
        unsafe { core::mem::transmute::<usize, _>(KUSER_CMPXCHG) };
    f(old, new, ptr) == 0
}

/// Atomically replace the `size`-byte value at `ptr` (1, 2 or 4, naturally aligned) with
/// `op(old)`, unless `op` returns None. Returns the old value.
///
/// # Safety
/// `ptr` must be valid for reads and writes of `size` bytes and aligned to `size`.
unsafe fn update(ptr: *mut u8, size: usize, op: impl Fn(u32) -> Option<u32>) -> u32 {
    let addr = ptr as usize;
    let word = (addr & !3) as *mut u32;
    // Little-endian: byte k of the word holds bits 8k..8k+7.
    let shift = (addr & 3) * 8;
    let mask: u32 = if size == 4 {
        u32::MAX
    } else {
        ((1u32 << (size * 8)) - 1) << shift
    };
    loop {
        // SAFETY: `word` is the aligned word containing the caller's valid object; reading
        // the neighbouring bytes of that word is allowed (same page, same allocation unit
        // for the kernel helper's purposes) and they are written back unchanged.
        let cur = unsafe { read_volatile(word) };
        let old = (cur & mask) >> shift;
        let Some(new) = op(old) else { return old };
        let next = (cur & !mask) | ((new << shift) & mask);
        if kuser_cmpxchg(cur, next, word) {
            return old;
        }
    }
}

macro_rules! sync_fns {
    ($size:literal, $ty:ty, $cas:ident, $swap:ident $(, $name:ident => $op:expr)*) => {
        /// `__sync_val_compare_and_swap`: store `new` if the value is `old`; the prior value.
        ///
        /// # Safety
        /// `ptr` must be valid and aligned, as for any atomic access.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $cas(ptr: *mut $ty, old: $ty, new: $ty) -> $ty {
            // SAFETY: the caller (LLVM's atomic lowering) passes a valid aligned pointer.
            unsafe {
                update(ptr.cast(), $size, |v| (v == old as u32).then_some(new as u32)) as $ty
            }
        }

        /// `__sync_lock_test_and_set`: swap in `val`; the prior value.
        ///
        /// # Safety
        /// `ptr` must be valid and aligned, as for any atomic access.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $swap(ptr: *mut $ty, val: $ty) -> $ty {
            // SAFETY: as above.
            unsafe { update(ptr.cast(), $size, |_| Some(val as u32)) as $ty }
        }

        $(
            /// `__sync_fetch_and_<op>`: apply the operation; the prior value.
            ///
            /// # Safety
            /// `ptr` must be valid and aligned, as for any atomic access.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name(ptr: *mut $ty, val: $ty) -> $ty {
                let op: fn($ty, $ty) -> $ty = $op;
                // SAFETY: as above.
                unsafe { update(ptr.cast(), $size, |v| Some(op(v as $ty, val) as u32)) as $ty }
            }
        )*
    };
}

sync_fns!(1, u8, __sync_val_compare_and_swap_1, __sync_lock_test_and_set_1,
    __sync_fetch_and_add_1 => |a, b| a.wrapping_add(b),
    __sync_fetch_and_sub_1 => |a, b| a.wrapping_sub(b),
    __sync_fetch_and_and_1 => |a, b| a & b,
    __sync_fetch_and_or_1 => |a, b| a | b,
    __sync_fetch_and_xor_1 => |a, b| a ^ b);
sync_fns!(2, u16, __sync_val_compare_and_swap_2, __sync_lock_test_and_set_2,
    __sync_fetch_and_add_2 => |a, b| a.wrapping_add(b),
    __sync_fetch_and_sub_2 => |a, b| a.wrapping_sub(b),
    __sync_fetch_and_and_2 => |a, b| a & b,
    __sync_fetch_and_or_2 => |a, b| a | b,
    __sync_fetch_and_xor_2 => |a, b| a ^ b);
sync_fns!(4, u32, __sync_val_compare_and_swap_4, __sync_lock_test_and_set_4,
    __sync_fetch_and_add_4 => |a, b| a.wrapping_add(b),
    __sync_fetch_and_sub_4 => |a, b| a.wrapping_sub(b),
    __sync_fetch_and_and_4 => |a, b| a & b,
    __sync_fetch_and_or_4 => |a, b| a | b,
    __sync_fetch_and_xor_4 => |a, b| a ^ b,
    __sync_fetch_and_nand_4 => |a, b| !(a & b),
    __sync_fetch_and_max_4 => |a: u32, b: u32| (a as i32).max(b as i32) as u32,
    __sync_fetch_and_min_4 => |a: u32, b: u32| (a as i32).min(b as i32) as u32,
    __sync_fetch_and_umax_4 => |a: u32, b: u32| a.max(b),
    __sync_fetch_and_umin_4 => |a: u32, b: u32| a.min(b));

/// `__sync_synchronize`: a full memory barrier.
#[unsafe(no_mangle)]
pub extern "C" fn __sync_synchronize() {
    // SAFETY: the kernel maps `void __kuser_memory_barrier(void)` at this fixed address in
    // every ARM process (see the module comment).
    let f: extern "C" fn() = unsafe { core::mem::transmute::<usize, _>(KUSER_MEMORY_BARRIER) };
    f();
}
