//! "Did you mean" suggestions, by Jaro-Winkler similarity (strsim).

/// ``"; did you mean `production`?"`` for the closest candidate, or an empty string when none
/// is close enough to be a likely typo.
pub fn did_you_mean<'a>(unknown: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let best = candidates
        .map(|candidate| (strsim::jaro_winkler(unknown, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, candidate)) => format!("; did you mean `{candidate}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let names = ["development", "staging", "production"];
        assert_eq!(
            did_you_mean("prodution", names.into_iter()),
            "; did you mean `production`?"
        );
        assert_eq!(
            did_you_mean("stagin", names.into_iter()),
            "; did you mean `staging`?"
        );
        assert_eq!(did_you_mean("zzz", names.into_iter()), "");
    }
}
