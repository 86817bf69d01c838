//! The names of the fitted models: what [`super::FittedModel::model_name`]
//! says a series was forecast with (in profiles' summaries and the
//! evaluation table of `netprofile`, spelled as [`ModelName::as_str`]).

use std::fmt;
use std::str::FromStr;

/// The model a fit ended up as (under [`super::Model::Auto`], the heaviest
/// candidate of the blend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModelName {
    /// `seasonal-trend`: daily and weekly Fourier terms on every day
    /// ([`super::Model::SeasonalTrend`]).
    SeasonalTrend,
    /// `seasonal-trend+lag24`: the same with the residual corrections.
    SeasonalTrendLag24,
    /// `log-seasonal-trend+lag24`: fitted on the logarithm.
    LogSeasonalTrendLag24,
    /// `weekend-daily+lag24`: plus the weekend's own level and daily shape,
    /// on the values (series with negative values).
    WeekendDailyLag24,
    /// `log-weekend-daily+lag24`: the same on the logarithm.
    LogWeekendDailyLag24,
    /// `weekend-sunday+lag24`: [`ModelName::WeekendDailyLag24`] plus
    /// Sunday's own level and daily shape beside Saturday's, on the values.
    WeekendSundayLag24,
    /// `log-weekend-sunday+lag24`: the same on the logarithm.
    LogWeekendSundayLag24,
    /// `mstl`: MSTL with locally constant seasonal loess, on the values.
    Mstl,
    /// `mstl-drift`: MSTL with locally linear (drifting) seasonal loess,
    /// on the values.
    MstlDrift,
    /// `log-mstl`: [`ModelName::Mstl`] on the logarithm.
    LogMstl,
    /// `log-mstl-drift`: [`ModelName::MstlDrift`] on the logarithm.
    LogMstlDrift,
    /// `snaive168`: the same hour a week earlier.
    SeasonalNaive168,
    /// `snaive-daytype`: the same hour of the previous weekday for a
    /// weekday, a week earlier for a weekend day.
    SeasonalNaiveDayType,
}

impl ModelName {
    /// Every name, in the order above.
    pub const ALL: [ModelName; 13] = [
        ModelName::SeasonalTrend,
        ModelName::SeasonalTrendLag24,
        ModelName::LogSeasonalTrendLag24,
        ModelName::WeekendDailyLag24,
        ModelName::LogWeekendDailyLag24,
        ModelName::WeekendSundayLag24,
        ModelName::LogWeekendSundayLag24,
        ModelName::Mstl,
        ModelName::MstlDrift,
        ModelName::LogMstl,
        ModelName::LogMstlDrift,
        ModelName::SeasonalNaive168,
        ModelName::SeasonalNaiveDayType,
    ];

    /// The spelling in outputs, e.g. `log-seasonal-trend+lag24`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::SeasonalTrend => "seasonal-trend",
            ModelName::SeasonalTrendLag24 => "seasonal-trend+lag24",
            ModelName::LogSeasonalTrendLag24 => "log-seasonal-trend+lag24",
            ModelName::WeekendDailyLag24 => "weekend-daily+lag24",
            ModelName::LogWeekendDailyLag24 => "log-weekend-daily+lag24",
            ModelName::WeekendSundayLag24 => "weekend-sunday+lag24",
            ModelName::LogWeekendSundayLag24 => "log-weekend-sunday+lag24",
            ModelName::Mstl => "mstl",
            ModelName::MstlDrift => "mstl-drift",
            ModelName::LogMstl => "log-mstl",
            ModelName::LogMstlDrift => "log-mstl-drift",
            ModelName::SeasonalNaive168 => "snaive168",
            ModelName::SeasonalNaiveDayType => "snaive-daytype",
        }
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model name that is none of [`ModelName::ALL`] (the text given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model name {0:?}")]
pub struct UnknownModelName(pub String);

impl FromStr for ModelName {
    type Err = UnknownModelName;

    /// The name spelled as [`ModelName::as_str`] spells it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelName::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownModelName(s.to_string()))
    }
}
