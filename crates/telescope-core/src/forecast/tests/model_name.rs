//! Model names are spelled in outputs as they were as strings (profiles'
//! summaries, the evaluation table), and read back.

use crate::forecast::{ModelName, UnknownModelName};

#[test]
fn model_names_keep_their_spellings_and_parse_back() {
    // The spellings netprofile has always printed (README, docs/accuracy),
    // the day-type naive's and the Sunday candidate's.
    let spelled = [
        "seasonal-trend",
        "seasonal-trend+lag24",
        "log-seasonal-trend+lag24",
        "weekend-daily+lag24",
        "log-weekend-daily+lag24",
        "weekend-sunday+lag24",
        "log-weekend-sunday+lag24",
        "mstl",
        "mstl-drift",
        "log-mstl",
        "log-mstl-drift",
        "snaive168",
        "snaive-daytype",
    ];
    let names: Vec<&str> = ModelName::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(names, spelled);
    for m in ModelName::ALL {
        assert_eq!(m.to_string(), m.as_str());
        assert_eq!(m.as_str().parse::<ModelName>(), Ok(m));
    }
    assert_eq!(
        "auto".parse::<ModelName>(),
        Err(UnknownModelName("auto".to_string()))
    );
}
