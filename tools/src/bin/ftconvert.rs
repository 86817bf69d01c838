//! Converts corsaro3 flowtuple (v3) files to flowtuple4 as stardust-tools'
//! `ftconvert` does (the rules: `telescope_test_support::ftconvert`, shared
//! with the tests), one file per interval:
//!
//! ```sh
//! cargo run --release -p telescope-tools --bin ftconvert -- -n 24 -I 1 -V 2 -o 'out/%s.ft4.avro' in.avro...
//! ```
//!
//! `-n` 16 or 24, `-I` minutes, `-V` early|1|2 (output schema), `-o` a
//! template whose `%s` is the interval's time. Prints `<interval> <records>
//! <file>` per file written. Inputs are read with the
//! apache-avro crate, records kept compactly until their interval is written.

use telescope_test_support::ftconvert::{Conv, Converter, Version};
use telescope_test_support::v3::for_each_v3;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut conv = Conv {
        version: Version::V2,
        dst_net: 16,
        minutes: 1,
        deflate: true,
        block_records: 200,
    };
    let mut template = None;
    let mut inputs = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().expect("option value").clone();
        match a.as_str() {
            "-n" => conv.dst_net = value().parse().expect("-n 16 or 24"),
            "-I" => conv.minutes = value().parse().expect("-I minutes"),
            "-V" => {
                conv.version = match value().as_str() {
                    "early" => Version::Early,
                    "1" => Version::V1,
                    "2" => Version::V2,
                    v => panic!("-V early, 1 or 2, not {v}"),
                }
            }
            "-o" => template = Some(value()),
            "--null" => conv.deflate = false,
            _ => inputs.push(a.clone()),
        }
    }
    let template = template.expect("-o template");
    let mut converter = Converter::new(conv);
    let mut batch = Vec::with_capacity(4096);
    for path in &inputs {
        let file = std::io::BufReader::new(std::fs::File::open(path).expect(path));
        for_each_v3(file, |r| {
            batch.push(r);
            if batch.len() == 4096 {
                converter.add(&batch);
                batch.clear();
            }
        });
    }
    converter.add(&batch);
    for (interval, records, bytes) in converter.finish_counted() {
        let name = template.replace("%s", &interval.to_string());
        std::fs::write(&name, bytes).expect("write output");
        println!("{interval} {records} {name}");
    }
}
