//! The admin API's request bodies (`<type>\n<JSON>`): deserialized as the handlers do and
//! validated; refusals name a field; what validates survives the round trips that exist.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_admin::fuzzing::admin_json(data));
