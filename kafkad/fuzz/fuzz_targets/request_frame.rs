//! Arbitrary bytes as one request frame body (what follows the 4-byte
//! size), through the very function a connection uses: it must decode or
//! return an error, never panic, hang or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The broker's allocator, as in kafkad's main.
#[global_allocator]
static ALLOC: kafkad::alloc::GuardedAlloc = kafkad::alloc::GuardedAlloc;

fuzz_target!(|data: &[u8]| {
    let _ = kafkad::connection::decode_request(bytes::Bytes::copy_from_slice(data));
});
