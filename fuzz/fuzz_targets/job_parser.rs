//! Arbitrary text through the job parser's pure half (`Job::parse_str`: no file is read and no
//! process is started, whatever the paths in the input say): errors are fine, panics are bugs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(job) = renderer::Job::parse_str(text, "fuzz.toml", std::path::Path::new("/fuzz"))
    {
        // A job that parses must also validate and convert its analysis settings.
        job.validate().expect("a parsed job validates");
        let _ = job.analysis.to_config(Some(64));
    }
});
