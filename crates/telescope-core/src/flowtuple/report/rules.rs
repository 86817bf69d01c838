//! The report plugin's rules (`--compat report`), each in one place: which
//! ASNs count, which geo tags make keys (and under which continent), and
//! the country table. The script flavour (`--compat script`) counts every
//! ASN and tag as it is; the aggregator asks here only under report rules.
//!
//! Dense keys (every key corsaro pre-creates, and every key seen before)
//! are added after aggregation, by [`super::dense`].

use crate::flowtuple::record::GeoTag;

/// An ASN counts in `uniq_src_asns` under report rules only when it is not
/// 0 (corsaro's report plugin, PR #97), and only when the record's source
/// is newly counted in the series ([`asn_value`]; with `prefixagg`, the
/// first record of each source aggregate, see below).
#[inline]
pub(crate) fn counts_asn(asn: u32) -> bool {
    asn != 0
}

/// The value standing for "no ASN counted" in the ASN pass under report
/// rules: a record whose ASN does not count files this value instead, and
/// a series' count leaves it out.
pub(crate) const NO_ASN: u32 = 0;

/// The ASN a record files for distinct counting under report rules with
/// the `all` or `sample` source counting: its ASN when that counts and its
/// source is counted (sampled), else [`NO_ASN`]. (With `all` every source
/// is counted, so this gives the distinct non-zero ASNs of the series.)
#[inline]
pub(crate) fn asn_value(asn: u32, source_counted: bool) -> u32 {
    if source_counted && counts_asn(asn) {
        asn
    } else {
        NO_ASN
    }
}

// Under report rules with `prefixagg` source counting, a series counts the
// distinct ASNs (those that [`counts_asn`]) of the first record, in input
// order, of each source aggregate counted in it: the aggregator's source
// items then carry ASNs (`aggregate::items::FirstItem`).

/// The continent tag a record counts under, if any: a `??` tag (what the
/// script flavour prints for untagged, empty or unprintable strings) makes
/// no geo key.
#[inline]
pub(crate) fn continent_key(tag: GeoTag) -> Option<GeoTag> {
    (tag != GeoTag::UNKNOWN).then_some(tag)
}

/// The continent a country is keyed under: the one libipmeta's table gives
/// it, whatever the record's continent. `None` for `??` (no geo key) and
/// for a country missing from the table (corsaro PR #95: no key).
#[inline]
pub(crate) fn country_continent(country: GeoTag) -> Option<GeoTag> {
    if country == GeoTag::UNKNOWN {
        return None;
    }
    let bytes = country.padded();
    if bytes[2..].iter().any(|&b| b != 0) {
        return None;
    }
    let code = [bytes[0], bytes[1]];
    COUNTRY_CONTINENT
        .binary_search_by(|(c, _)| c.cmp(&code))
        .ok()
        .map(|i| tag2(COUNTRY_CONTINENT[i].1))
}

/// The eight continent keys corsaro pre-creates, ascending.
pub(crate) const CONTINENTS: [[u8; 2]; 8] = [
    *b"??", *b"AF", *b"AN", *b"AS", *b"EU", *b"NA", *b"OC", *b"SA",
];

/// A two-letter tag.
pub(crate) fn tag2(code: [u8; 2]) -> GeoTag {
    let mut padded = [0u8; crate::flowtuple::record::MAX_TAG_BYTES];
    padded[..2].copy_from_slice(&code);
    GeoTag::from_printable_padded(padded)
}

/// libipmeta's country-to-continent table (MaxMind's legacy GeoIP list,
/// with its non-ISO codes `AP`, `EU`, `A1`, `A2`, `O1` and `??`), one
/// table for both geo providers, sorted by country code. Facts entered
/// from the arrays `country_code_iso2` and `country_continent` of
/// `lib/providers/ipmeta_provider_maxmind.c` in CAIDA/libipmeta at commit
/// e84853e5b991c98a6160895e2f2c07c8011c3e3f (256 entries, no code
/// duplicated); corsaro's report plugin reads them through
/// `ipmeta_provider_maxmind_get_iso2_list` and
/// `ipmeta_provider_maxmind_get_country_continent_list`.
#[rustfmt::skip]
pub(crate) const COUNTRY_CONTINENT: [([u8; 2], [u8; 2]); 256] = [
    (*b"??", *b"??"), (*b"A1", *b"??"), (*b"A2", *b"??"), (*b"AD", *b"EU"), (*b"AE", *b"AS"),
    (*b"AF", *b"AS"), (*b"AG", *b"NA"), (*b"AI", *b"NA"), (*b"AL", *b"EU"), (*b"AM", *b"AS"),
    (*b"AN", *b"NA"), (*b"AO", *b"AF"), (*b"AP", *b"AS"), (*b"AQ", *b"AN"), (*b"AR", *b"SA"),
    (*b"AS", *b"OC"), (*b"AT", *b"EU"), (*b"AU", *b"OC"), (*b"AW", *b"NA"), (*b"AX", *b"EU"),
    (*b"AZ", *b"AS"), (*b"BA", *b"EU"), (*b"BB", *b"NA"), (*b"BD", *b"AS"), (*b"BE", *b"EU"),
    (*b"BF", *b"AF"), (*b"BG", *b"EU"), (*b"BH", *b"AS"), (*b"BI", *b"AF"), (*b"BJ", *b"AF"),
    (*b"BL", *b"NA"), (*b"BM", *b"NA"), (*b"BN", *b"AS"), (*b"BO", *b"SA"), (*b"BQ", *b"NA"),
    (*b"BR", *b"SA"), (*b"BS", *b"NA"), (*b"BT", *b"AS"), (*b"BV", *b"AN"), (*b"BW", *b"AF"),
    (*b"BY", *b"EU"), (*b"BZ", *b"NA"), (*b"CA", *b"NA"), (*b"CC", *b"AS"), (*b"CD", *b"AF"),
    (*b"CF", *b"AF"), (*b"CG", *b"AF"), (*b"CH", *b"EU"), (*b"CI", *b"AF"), (*b"CK", *b"OC"),
    (*b"CL", *b"SA"), (*b"CM", *b"AF"), (*b"CN", *b"AS"), (*b"CO", *b"SA"), (*b"CR", *b"NA"),
    (*b"CU", *b"NA"), (*b"CV", *b"AF"), (*b"CW", *b"NA"), (*b"CX", *b"AS"), (*b"CY", *b"AS"),
    (*b"CZ", *b"EU"), (*b"DE", *b"EU"), (*b"DJ", *b"AF"), (*b"DK", *b"EU"), (*b"DM", *b"NA"),
    (*b"DO", *b"NA"), (*b"DZ", *b"AF"), (*b"EC", *b"SA"), (*b"EE", *b"EU"), (*b"EG", *b"AF"),
    (*b"EH", *b"AF"), (*b"ER", *b"AF"), (*b"ES", *b"EU"), (*b"ET", *b"AF"), (*b"EU", *b"EU"),
    (*b"FI", *b"EU"), (*b"FJ", *b"OC"), (*b"FK", *b"SA"), (*b"FM", *b"OC"), (*b"FO", *b"EU"),
    (*b"FR", *b"EU"), (*b"GA", *b"AF"), (*b"GB", *b"EU"), (*b"GD", *b"NA"), (*b"GE", *b"AS"),
    (*b"GF", *b"SA"), (*b"GG", *b"EU"), (*b"GH", *b"AF"), (*b"GI", *b"EU"), (*b"GL", *b"NA"),
    (*b"GM", *b"AF"), (*b"GN", *b"AF"), (*b"GP", *b"NA"), (*b"GQ", *b"AF"), (*b"GR", *b"EU"),
    (*b"GS", *b"AN"), (*b"GT", *b"NA"), (*b"GU", *b"OC"), (*b"GW", *b"AF"), (*b"GY", *b"SA"),
    (*b"HK", *b"AS"), (*b"HM", *b"AN"), (*b"HN", *b"NA"), (*b"HR", *b"EU"), (*b"HT", *b"NA"),
    (*b"HU", *b"EU"), (*b"ID", *b"AS"), (*b"IE", *b"EU"), (*b"IL", *b"AS"), (*b"IM", *b"EU"),
    (*b"IN", *b"AS"), (*b"IO", *b"AS"), (*b"IQ", *b"AS"), (*b"IR", *b"AS"), (*b"IS", *b"EU"),
    (*b"IT", *b"EU"), (*b"JE", *b"EU"), (*b"JM", *b"NA"), (*b"JO", *b"AS"), (*b"JP", *b"AS"),
    (*b"KE", *b"AF"), (*b"KG", *b"AS"), (*b"KH", *b"AS"), (*b"KI", *b"OC"), (*b"KM", *b"AF"),
    (*b"KN", *b"NA"), (*b"KP", *b"AS"), (*b"KR", *b"AS"), (*b"KW", *b"AS"), (*b"KY", *b"NA"),
    (*b"KZ", *b"AS"), (*b"LA", *b"AS"), (*b"LB", *b"AS"), (*b"LC", *b"NA"), (*b"LI", *b"EU"),
    (*b"LK", *b"AS"), (*b"LR", *b"AF"), (*b"LS", *b"AF"), (*b"LT", *b"EU"), (*b"LU", *b"EU"),
    (*b"LV", *b"EU"), (*b"LY", *b"AF"), (*b"MA", *b"AF"), (*b"MC", *b"EU"), (*b"MD", *b"EU"),
    (*b"ME", *b"EU"), (*b"MF", *b"NA"), (*b"MG", *b"AF"), (*b"MH", *b"OC"), (*b"MK", *b"EU"),
    (*b"ML", *b"AF"), (*b"MM", *b"AS"), (*b"MN", *b"AS"), (*b"MO", *b"AS"), (*b"MP", *b"OC"),
    (*b"MQ", *b"NA"), (*b"MR", *b"AF"), (*b"MS", *b"NA"), (*b"MT", *b"EU"), (*b"MU", *b"AF"),
    (*b"MV", *b"AS"), (*b"MW", *b"AF"), (*b"MX", *b"NA"), (*b"MY", *b"AS"), (*b"MZ", *b"AF"),
    (*b"NA", *b"AF"), (*b"NC", *b"OC"), (*b"NE", *b"AF"), (*b"NF", *b"OC"), (*b"NG", *b"AF"),
    (*b"NI", *b"NA"), (*b"NL", *b"EU"), (*b"NO", *b"EU"), (*b"NP", *b"AS"), (*b"NR", *b"OC"),
    (*b"NU", *b"OC"), (*b"NZ", *b"OC"), (*b"O1", *b"??"), (*b"OM", *b"AS"), (*b"PA", *b"NA"),
    (*b"PE", *b"SA"), (*b"PF", *b"OC"), (*b"PG", *b"OC"), (*b"PH", *b"AS"), (*b"PK", *b"AS"),
    (*b"PL", *b"EU"), (*b"PM", *b"NA"), (*b"PN", *b"OC"), (*b"PR", *b"NA"), (*b"PS", *b"AS"),
    (*b"PT", *b"EU"), (*b"PW", *b"OC"), (*b"PY", *b"SA"), (*b"QA", *b"AS"), (*b"RE", *b"AF"),
    (*b"RO", *b"EU"), (*b"RS", *b"EU"), (*b"RU", *b"EU"), (*b"RW", *b"AF"), (*b"SA", *b"AS"),
    (*b"SB", *b"OC"), (*b"SC", *b"AF"), (*b"SD", *b"AF"), (*b"SE", *b"EU"), (*b"SG", *b"AS"),
    (*b"SH", *b"AF"), (*b"SI", *b"EU"), (*b"SJ", *b"EU"), (*b"SK", *b"EU"), (*b"SL", *b"AF"),
    (*b"SM", *b"EU"), (*b"SN", *b"AF"), (*b"SO", *b"AF"), (*b"SR", *b"SA"), (*b"SS", *b"AF"),
    (*b"ST", *b"AF"), (*b"SV", *b"NA"), (*b"SX", *b"NA"), (*b"SY", *b"AS"), (*b"SZ", *b"AF"),
    (*b"TC", *b"NA"), (*b"TD", *b"AF"), (*b"TF", *b"AN"), (*b"TG", *b"AF"), (*b"TH", *b"AS"),
    (*b"TJ", *b"AS"), (*b"TK", *b"OC"), (*b"TL", *b"AS"), (*b"TM", *b"AS"), (*b"TN", *b"AF"),
    (*b"TO", *b"OC"), (*b"TR", *b"EU"), (*b"TT", *b"NA"), (*b"TV", *b"OC"), (*b"TW", *b"AS"),
    (*b"TZ", *b"AF"), (*b"UA", *b"EU"), (*b"UG", *b"AF"), (*b"UM", *b"OC"), (*b"US", *b"NA"),
    (*b"UY", *b"SA"), (*b"UZ", *b"AS"), (*b"VA", *b"EU"), (*b"VC", *b"NA"), (*b"VE", *b"SA"),
    (*b"VG", *b"NA"), (*b"VI", *b"NA"), (*b"VN", *b"AS"), (*b"VU", *b"OC"), (*b"WF", *b"OC"),
    (*b"WS", *b"OC"), (*b"YE", *b"AS"), (*b"YT", *b"AF"), (*b"ZA", *b"AF"), (*b"ZM", *b"AF"),
    (*b"ZW", *b"AF"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> GeoTag {
        GeoTag::from_bytes(s.as_bytes()).unwrap()
    }

    #[test]
    fn the_table_is_sorted_and_complete() {
        assert!(COUNTRY_CONTINENT.windows(2).all(|w| w[0].0 < w[1].0));
        for (_, continent) in COUNTRY_CONTINENT {
            assert!(CONTINENTS.contains(&continent), "{continent:?}");
        }
    }

    /// A sample of pairs read by hand from libipmeta's two arrays (same
    /// index in `country_code_iso2` and `country_continent`).
    #[test]
    fn sample_pairs_from_libipmeta() {
        for (country, continent) in [
            ("AP", "AS"),
            ("EU", "EU"),
            ("A1", "??"),
            ("A2", "??"),
            ("O1", "??"),
            ("AN", "NA"),
            ("AQ", "AN"),
            ("FR", "EU"),
            ("US", "NA"),
            ("BR", "SA"),
            ("CN", "AS"),
            ("RU", "EU"),
            ("TR", "EU"),
            ("AU", "OC"),
            ("EG", "AF"),
            ("SS", "AF"),
            ("CW", "NA"),
            ("AM", "AS"),
            ("CY", "AS"),
            ("GE", "AS"),
            ("UM", "OC"),
        ] {
            assert_eq!(
                country_continent(t(country)),
                Some(t(continent)),
                "{country}"
            );
        }
        for missing in ["??", "XK", "ZZ", "fr", "FRA", "F"] {
            assert_eq!(country_continent(t(missing)), None, "{missing}");
        }
    }

    #[test]
    fn asn_rules() {
        assert!(!counts_asn(0));
        assert!(counts_asn(1));
        assert_eq!(asn_value(0, true), NO_ASN);
        assert_eq!(asn_value(7, false), NO_ASN);
        assert_eq!(asn_value(7, true), 7);
    }

    #[test]
    fn geo_keys() {
        assert_eq!(continent_key(t("??")), None);
        assert_eq!(continent_key(t("EU")), Some(t("EU")));
        assert_eq!(continent_key(GeoTag::from_bytes(b"").unwrap()), None);
    }
}
