//! The library's errors in the words of the command line: where the
//! remedy for an error is an option, the message names its flag (the
//! library knows no flags).

use telescope_core::flowtuple::flowtuple4::Unsupported;
use telescope_core::flowtuple::{BadRecord, FlowtupleError};

/// The error of an input, as the run reports it.
pub fn input_error(e: FlowtupleError) -> anyhow::Error {
    match e {
        FlowtupleError::IntervalReappears { time, at } => anyhow::anyhow!(
            "timestamp {time} reappears ({at}) after its interval was complete; refusing to \
             print a second block for it (--merge-repeated merges repeated runs, e.g. of \
             concatenated per-thread interim files)"
        ),
        FlowtupleError::WrongFormat { found, expected } => anyhow::anyhow!(
            "the file is {found}, but this run reads {expected} files (one run reads one \
             format; flowtuple4 files need --dst-net 24 or 16)"
        ),
        FlowtupleError::SpillFull {
            dir,
            needed,
            written,
        } => anyhow::anyhow!(
            "temporary directory {}: disk full while spilling the interval being read (this \
             spill needed up to {needed} bytes; {written} bytes were already spilled); free \
             space there, choose another --temp-dir or raise --memory-limit",
            dir.display()
        ),
        FlowtupleError::DstNet {
            at,
            what: BadRecord::NotSlash16 { record, net },
        } => anyhow::anyhow!(
            "{at}: record {record}: dst_net {net} has a nonzero third octet, so the file is \
             not aggregated to /16 as --dst-net 16 states (is it /24? ftconvert -n 24)"
        ),
        e => anyhow::Error::new(e),
    }
}

/// Why the options cannot be computed exactly from flowtuple4 files.
pub fn unsupported(why: Unsupported) -> String {
    match why {
        Unsupported::DstPrefixTooFine { prefix, dst_net } => format!(
            "--dst-ip-counting prefixagg:{prefix} is finer than the /{dst_net} networks \
             a flowtuple4 file holds (use prefixagg:N with N <= {dst_net})"
        ),
        Unsupported::DstSample => "--dst-ip-counting sample:N is not available on flowtuple4: \
             it needs the destination addresses, and flowtuple4 keeps only their /24 or /16 \
             network (use all or prefixagg:N)"
            .into(),
        Unsupported::ReportSourcePrefixes => "--compat report with --src-ip-counting \
             prefixagg:N is not available on flowtuple4: the report plugin counts the ASN of \
             the first v3 record of each newly counted source prefix, and ftconvert does not \
             keep the order of v3 records (use --compat script, or all or sample:N sources)"
            .into(),
        why => why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telescope_core::flowtuple::Position;

    #[test]
    fn library_errors_name_the_flags_that_remedy_them() {
        let at = Position {
            offset: 70,
            block: Some(2),
        };
        let cases = [
            (
                FlowtupleError::IntervalReappears { time: 60, at },
                "timestamp 60 reappears (block 2 at byte offset 70) after its interval was \
                 complete; refusing to print a second block for it (--merge-repeated merges \
                 repeated runs, e.g. of concatenated per-thread interim files)",
            ),
            (
                FlowtupleError::WrongFormat {
                    found: "flowtuple4",
                    expected: "flowtuple",
                },
                "the file is flowtuple4, but this run reads flowtuple files (one run reads one \
                 format; flowtuple4 files need --dst-net 24 or 16)",
            ),
            (
                FlowtupleError::SpillFull {
                    dir: "/tmp/x".into(),
                    needed: 5,
                    written: 3,
                },
                "temporary directory /tmp/x: disk full while spilling the interval being read \
                 (this spill needed up to 5 bytes; 3 bytes were already spilled); free space \
                 there, choose another --temp-dir or raise --memory-limit",
            ),
            (
                FlowtupleError::DstNet {
                    at,
                    what: BadRecord::NotSlash16 {
                        record: 4,
                        net: [44, 1, 2, 0].into(),
                    },
                },
                "block 2 at byte offset 70: record 4: dst_net 44.1.2.0 has a nonzero third \
                 octet, so the file is not aggregated to /16 as --dst-net 16 states (is it /24? \
                 ftconvert -n 24)",
            ),
        ];
        for (e, want) in cases {
            let library = e.to_string();
            assert!(!library.contains("--"), "{library}");
            assert_eq!(input_error(e).to_string(), want);
        }
        // Errors with no flag to name pass as they are, still typed.
        let e = input_error(FlowtupleError::NotAvro("x".into()));
        assert!(e.downcast_ref::<FlowtupleError>().is_some());
    }

    #[test]
    fn flowtuple4_refusals_name_the_flags() {
        let cases = [
            (
                Unsupported::DstPrefixTooFine {
                    prefix: 28,
                    dst_net: 24,
                },
                "--dst-ip-counting prefixagg:28 is finer than the /24 networks a flowtuple4 \
                 file holds (use prefixagg:N with N <= 24)",
            ),
            (
                Unsupported::DstSample,
                "--dst-ip-counting sample:N is not available on flowtuple4: it needs the \
                 destination addresses, and flowtuple4 keeps only their /24 or /16 network (use \
                 all or prefixagg:N)",
            ),
            (
                Unsupported::ReportSourcePrefixes,
                "--compat report with --src-ip-counting prefixagg:N is not available on \
                 flowtuple4: the report plugin counts the ASN of the first v3 record of each \
                 newly counted source prefix, and ftconvert does not keep the order of v3 \
                 records (use --compat script, or all or sample:N sources)",
            ),
        ];
        for (why, want) in cases {
            assert!(!why.to_string().contains("--"), "{why}");
            assert_eq!(unsupported(why), want);
        }
    }
}
