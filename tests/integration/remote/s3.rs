//! S3 objects and prefixes from a real S3 server (s3s-fs).

use super::servers::S3;
use super::{
    assert_same, error_lines, fixture, fixture_path, local, minute_object, run, stats_lines,
    write_local,
};
use crate::util::text;

#[test]
fn s3_and_http_objects_print_what_their_local_copies_print() {
    let s3 = S3::start(true);
    let key =
        "datasource=ucsd-nt/year=2024/month=01/day=01/hour=00/ucsd-nt.1704067200.flowtuple.avro";
    s3.put_file("stardust", key, &fixture("minutes.avro"));
    s3.put_file(
        "stardust",
        "v4/v3_5min_1609459200.ft4.avro",
        &fixture("ft4-v2-24.avro"),
    );
    let url = format!("s3://stardust/{key}");
    // Both command forms, and another mode and format.
    let expected = local(&[&fixture_path("minutes.avro"), "unfiltered"]);
    assert_same(&run(&[&url, "unfiltered"], &s3.env(), &[]), &expected);
    let args = ["--mode", "nonspoofed", "--format", "timeseries"];
    let expected = local(&[&args[..], &[&fixture_path("minutes.avro")]].concat());
    assert_same(
        &run(&[&args[..], &[&url]].concat(), &s3.env(), &[]),
        &expected,
    );
    // flowtuple4: told from the object's header as from a file's.
    let ft4 = "s3://stardust/v4/v3_5min_1609459200.ft4.avro";
    let expected = local(&[
        "--dst-net",
        "24",
        &fixture_path("ft4-v2-24.avro"),
        "unfiltered",
    ]);
    assert_same(
        &run(&["--dst-net", "24", ft4, "unfiltered"], &s3.env(), &[]),
        &expected,
    );
    let out = run(&[ft4, "unfiltered"], &s3.env(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("--dst-net 24"), "{}", text(&out).1);

    // Plain http(s): the same object from a server that needs no signature.
    let public = S3::start(false);
    public.put_file("pub", "minutes.avro", &fixture("minutes.avro"));
    let http = format!("http://127.0.0.1:{}/pub/minutes.avro", public.port);
    let expected = local(&[&fixture_path("minutes.avro"), "unfiltered"]);
    assert_same(&run(&[&http, "unfiltered"], &[], &[]), &expected);
    let out = run(
        &[
            &format!("http://127.0.0.1:{}/pub/", public.port),
            "unfiltered",
        ],
        &[],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("has no listing"), "{}", text(&out).1);
    let missing = format!("http://127.0.0.1:{}/pub/missing.avro", public.port);
    let out = run(&[&missing, "unfiltered"], &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out).1,
        format!("flowtuple-series: {missing}: not found (404): check the URL\n")
    );

    // Unsigned requests to a public bucket, by option only.
    let env: Vec<(String, String)> = public
        .env()
        .into_iter()
        .filter(|(k, _)| !k.contains("ACCESS_KEY"))
        .collect();
    let out = run(
        &["--no-sign-request", "s3://pub/minutes.avro", "unfiltered"],
        &env,
        &[],
    );
    assert_same(&out, &expected);
    let out = run(&["s3://pub/minutes.avro", "unfiltered"], &env, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("--no-sign-request"),
        "{}",
        text(&out).1
    );
}

#[test]
fn a_prefix_is_every_object_under_it_in_byte_order_across_list_pages() {
    let s3 = S3::start(true);
    // s3s-fs answers 1,000 keys a page: 2,053 keys take three pages.
    let mut expected_order: Vec<(String, usize)> = vec![
        // Byte order of the full key: upper case before `_`, `_` before
        // lower case, "10" before "9".
        ("A-upper.avro".into(), 0),
        ("B.avro".into(), 1),
        ("_.avro".into(), 2),
        ("a-lower.avro".into(), 3),
    ];
    expected_order.extend((0..2049).map(|i| (format!("o{i:04}.avro"), i + 4)));
    // Each object its own minute (a run prints a timestamp once); put them
    // in another order than they must come out in.
    for (name, m) in expected_order.iter().rev() {
        s3.put_file("stardust", &format!("day=01/{name}"), &minute_object(*m));
    }
    s3.put_file("stardust", "day=02/not-this.avro", &minute_object(0));
    s3.put_file("stardust", "day=010.avro", &minute_object(0));
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = expected_order
        .iter()
        .map(|(name, m)| write_local(dir.path(), name, &minute_object(*m)))
        .collect();
    let mut args = vec!["--mode", "unfiltered", "-j", "2"];
    args.extend(paths.iter().map(String::as_str));
    let expected = local(&args);
    let out = run(
        &[
            "--stats",
            "--mode",
            "unfiltered",
            "-j",
            "2",
            "s3://stardust/day=01/",
        ],
        &s3.env(),
        &[],
    );
    let stats = text(&out).1;
    assert!(out.status.success(), "{stats}");
    assert!(
        out.stdout == expected,
        "prefix output differs from the files in byte order"
    );
    let objects: Vec<&str> = stats_lines(&stats)
        .into_iter()
        .map(|l| l.split(": ").nth(2).unwrap_or(""))
        .collect();
    assert_eq!(objects.len(), 2053, "every page listed");
    assert_eq!(objects[0], "s3://stardust/day=01/A-upper.avro");
    assert_eq!(objects[3], "s3://stardust/day=01/a-lower.avro");
    assert_eq!(objects[2052], "s3://stardust/day=01/o2048.avro");
}

#[test]
fn s3_failures_are_one_clear_line_and_the_other_objects_go_on() {
    let s3 = S3::start(true);
    s3.put_file("stardust", "good.avro", &fixture("minute1.avro"));
    s3.bucket("empty");
    let good_local = local(&["--mode", "unfiltered", &fixture_path("minute1.avro")]);
    let one_line = |out: &std::process::Output, code: i32, needle: &str| {
        let (stdout, stderr) = text(out);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert_eq!(error_lines(&stderr).len(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        stdout
    };
    // A missing key: that object fails, the others go on.
    let out = run(
        &[
            "--mode",
            "unfiltered",
            "s3://stardust/missing.avro",
            "s3://stardust/good.avro",
        ],
        &s3.env(),
        &[],
    );
    let stdout = one_line(
        &out,
        1,
        "flowtuple-series: s3://stardust/missing.avro: not found (404): check the bucket and key",
    );
    assert_eq!(stdout.as_bytes(), good_local);
    // A missing bucket.
    let out = run(&["s3://nobucket/x.avro", "unfiltered"], &s3.env(), &[]);
    one_line(&out, 1, "s3://nobucket/x.avro: not found (404)");
    // Wrong credentials: the wrong secret is not printed either.
    let wrong = "Wr0ngSecret-Zq81";
    let mut env = s3.env();
    env.iter_mut()
        .filter(|(k, _)| k == "AWS_SECRET_ACCESS_KEY")
        .for_each(|(_, v)| *v = wrong.into());
    let out = run(&["s3://stardust/good.avro", "unfiltered"], &env, &[wrong]);
    let stdout = one_line(
        &out,
        1,
        "s3://stardust/good.avro: access denied (403); check AWS_ACCESS_KEY_ID",
    );
    assert!(stdout.is_empty());
    let out = run(&["--mode", "unfiltered", "s3://stardust/"], &env, &[wrong]);
    one_line(&out, 1, "s3://stardust/: access denied (403)");
    // An empty prefix: a usage error before anything is read.
    for prefix in ["s3://stardust/nothing/", "s3://empty/"] {
        let out = run(&["--mode", "unfiltered", prefix], &s3.env(), &[]);
        let stdout = one_line(&out, 2, &format!("`{prefix}`: no object under this prefix"));
        assert!(stdout.is_empty());
    }
    // A plain http:// endpoint needs AWS_ALLOW_HTTP=true.
    let env: Vec<_> = s3
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_ALLOW_HTTP")
        .collect();
    let out = run(&["s3://stardust/good.avro", "unfiltered"], &env, &[]);
    one_line(&out, 1, "AWS_ALLOW_HTTP=true");
    // Names checked before anything is listed or read.
    let out = run(
        &[
            "--mode",
            "unfiltered",
            "s3://stardust",
            "s3://stardust/good.avro",
        ],
        &s3.env(),
        &[],
    );
    one_line(&out, 2, "no key name");
}
