//! Raw Proxy-Wasm ABI calls for the operations where the SDK's `hostcalls` would panic (and so
//! trap the VM) on a host status it did not expect, or on a header that is not UTF-8.
//! Every call here returns the host status as an error instead. With the allocator (`wiping_alloc`), the only unsafe code.
#![allow(unsafe_code)]

use super::{map_codec, wiping_alloc};
use std::ptr::{null, null_mut};

/// A non-Ok Proxy-Wasm status code.
pub type Status = u32;

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;
/// The status given for a header map whose bytes do not hold the pairs they announce.
pub const PARSE_FAILURE: u32 = 4;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, data: *const u8, size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(out: *mut u64) -> u32;
    fn proxy_get_header_map_pairs(map: u32, out_data: *mut *mut u8, out_size: *mut usize) -> u32;
    fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        out_data: *mut *mut u8,
        out_size: *mut usize,
    ) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max: usize,
        out_data: *mut *mut u8,
        out_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        out_data: *mut *mut u8,
        out_size: *mut usize,
    ) -> u32;
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_property(
        path: *const u8,
        path_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_continue_stream(stream: u32) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, out_id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
}

fn check(status: u32) -> Result<(), Status> {
    if status == OK {
        Ok(())
    } else {
        Err(status)
    }
}

/// Takes ownership of a buffer the host allocated through the SDK's `proxy_on_memory_allocate`.
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host wrote `size` bytes into memory the SDK allocated as a Vec<u8> of that capacity.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Writes a log line at a Proxy-Wasm level (0 trace .. 4 error, 5 critical).
pub fn log(level: u32, message: &str) {
    // SAFETY: pointer and length of a live &str.
    let _ = unsafe { proxy_log(level, message.as_ptr(), message.len()) };
}

/// Host time in nanoseconds since the epoch.
pub fn now_nanos() -> Result<u64, Status> {
    let mut out = 0u64;
    // SAFETY: out is a valid u64 slot.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut out) })?;
    Ok(out)
}

/// All pairs of a header map, as raw bytes; the buffer the host fills is allocated `slack`
/// bytes longer.
///
/// Kong's engine (every ngx_wasm_module release) sizes a map of more than 100 pairs (its cut)
/// for its first 100 headers and one of the pairs it adds (pseudo-headers; on a response, the
/// shim headers such as `Content-Type`), then writes every added pair and 96 headers: past the
/// buffer by about the added pairs' length, which a client (`:method`) or an upstream
/// (`Content-Type`) chose, over the filter's heap or off the end of its memory (the worker
/// dies). The caller gives the room ([`super::host`]), and the map is read to where its table
/// says it ends.
pub fn header_pairs(map: u32, slack: usize) -> Result<map_codec::Pairs, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    wiping_alloc::arm_slack(slack);
    // SAFETY: out-pointers are valid; the returned buffer is taken over below.
    let status = unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) };
    let bytes = match wiping_alloc::slacked() {
        Some((at, capacity)) if at == data as usize => take_slacked(data, size, capacity),
        Some(_) => {
            // A block the host took and did not hand back (a failed call): left as it is, but
            // it must not hold off the room of every later map.
            wiping_alloc::forget_slacked();
            Some(take(data, size))
        }
        None => Some(take(data, size)),
    };
    check(status)?;
    map_codec::decode(&bytes.ok_or(PARSE_FAILURE)?).ok_or(PARSE_FAILURE)
}

/// A header map's buffer that took the allocator's slack (`capacity` bytes in all): its bytes
/// up to the end of the pairs its table announces, `None` when they end past the block.
fn take_slacked(data: *mut u8, size: usize, capacity: usize) -> Option<Vec<u8>> {
    let size = size.min(capacity);
    // SAFETY: the host wrote at least `size` bytes at `data`.
    let table = unsafe { std::slice::from_raw_parts(data, size) };
    let used = map_codec::encoded_len(table).unwrap_or(size).max(size);
    wiping_alloc::set_slacked_used(used.min(capacity));
    // SAFETY: the block holds `capacity` bytes (the SDK's allocation with the slack), of which
    // the host wrote the first `used`; it is freed with that capacity.
    let buffer = unsafe { Vec::from_raw_parts(data, used.min(capacity), capacity) };
    (used <= capacity).then_some(buffer)
}

/// The length of a header's value, if the map has it (the host looks through the whole map,
/// its pseudo-headers and, on Kong's engine, its shim headers).
pub fn header_value_len(map: u32, name: &str) -> Option<usize> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointer and length of a live &str; out-pointers are valid.
    let status =
        unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut data, &mut size) };
    let value = take(data, size);
    (status == OK).then_some(value.len())
}

/// Replaces (or adds) a header.
pub fn replace_header(map: u32, name: &str, value: &str) -> Result<(), Status> {
    // SAFETY: pointers and lengths of live &str.
    check(unsafe {
        proxy_replace_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

/// Removes a header (every value).
pub fn remove_header(map: u32, name: &str) -> Result<(), Status> {
    // SAFETY: pointer and length of a live &str.
    check(unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) })
}

/// Bytes of a host buffer; `None` when the host has none.
pub fn buffer(buffer: u32, start: usize, max: usize) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are valid; the returned buffer is taken over by `take`.
    match unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) } {
        OK => Ok(Some(take(data, size))),
        NOT_FOUND => Ok(None),
        status => Err(status),
    }
}

/// Replaces bytes `[start, start + size)` of a host buffer with `data` (the whole body: `0`
/// and its length).
pub fn set_buffer(buffer: u32, start: usize, size: usize, data: &[u8]) -> Result<(), Status> {
    // SAFETY: pointer and length of a live slice.
    check(unsafe { proxy_set_buffer_bytes(buffer, start, size, data.as_ptr(), data.len()) })
}

/// A host property (path segments joined by NUL, as the ABI wants).
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let encoded = path.join("\0");
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: pointer and length of a live String; out-pointers are valid.
    match unsafe { proxy_get_property(encoded.as_ptr(), encoded.len(), &mut data, &mut size) } {
        OK => Ok(Some(take(data, size))),
        NOT_FOUND => Ok(None),
        status => Err(status),
    }
}

/// Writes a host property. On ngx_wasm_module an `ngx.*` property is an nginx variable, and
/// writing one that is not changeable traps: callers write only variables they read first.
pub fn set_property(path: &[&str], value: &[u8]) -> Result<(), Status> {
    let encoded = path.join("\0");
    // SAFETY: pointers and lengths of a live String and slice.
    match unsafe {
        proxy_set_property(encoded.as_ptr(), encoded.len(), value.as_ptr(), value.len())
    } {
        OK => Ok(()),
        status => Err(status),
    }
}

/// Sends a local reply instead of proxying; `grpc_status` -1 when the answer is not gRPC's
/// (Kong's engine accepts nothing else).
pub fn send_response(
    status: u32,
    headers: &[(&str, &str)],
    body: &[u8],
    grpc_status: i32,
) -> Result<(), Status> {
    let encoded = map_codec::encode(headers);
    let body_ptr = if body.is_empty() {
        null()
    } else {
        body.as_ptr()
    };
    // SAFETY: pointers and lengths of live buffers.
    check(unsafe {
        proxy_send_local_response(
            status,
            null(),
            0,
            body_ptr,
            body.len(),
            encoded.as_ptr(),
            encoded.len(),
            grpc_status,
        )
    })
}

/// Resumes a paused request.
pub fn continue_request() -> Result<(), Status> {
    // SAFETY: plain value argument.
    check(unsafe { proxy_continue_stream(0) })
}

/// Asks the host to call `on_tick` every `ms` milliseconds.
pub fn set_tick_period(ms: u32) -> Result<(), Status> {
    // SAFETY: plain value argument.
    check(unsafe { proxy_set_tick_period_milliseconds(ms) })
}

/// Defines a metric (0 counter, 1 gauge, 2 histogram); fails on hosts without metrics (Kong
/// before 3.8).
pub fn define_metric(kind: u32, name: &str) -> Result<u32, Status> {
    let mut id = 0u32;
    // SAFETY: pointer and length of a live &str; id is a valid u32 slot.
    check(unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Adds to a counter.
pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: plain value arguments.
    check(unsafe { proxy_increment_metric(id, offset) })
}

/// Records a histogram value.
pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: plain value arguments.
    check(unsafe { proxy_record_metric(id, value) })
}

/// Header map and buffer ids of the ABI.
pub mod ids {
    /// Request headers map.
    pub const REQUEST_HEADERS: u32 = 0;
    /// Request trailers map.
    pub const REQUEST_TRAILERS: u32 = 1;
    /// Response headers map.
    pub const RESPONSE_HEADERS: u32 = 2;
    /// Dispatch answer headers map.
    pub const CALL_RESPONSE_HEADERS: u32 = 6;
    /// Request body buffer.
    pub const REQUEST_BODY: u32 = 0;
    /// Dispatch answer body buffer.
    pub const CALL_RESPONSE_BODY: u32 = 4;
    /// Plugin configuration buffer.
    pub const PLUGIN_CONFIGURATION: u32 = 7;
}
