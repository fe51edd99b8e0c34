//! The browser's world: pages users visit, a few of them phishing, and how users
//! react to a block, an interstitial warning, a badge, or nothing.

use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::sample::*;
use crate::scenario::{ChangeKind, Scenario, Slot};
use crate::world::{Answer, Reaction, Request, Truth, UnitMemory, World};

pub struct Phishing;

const TLDS: [&str; 6] = ["com", "org", "net", "country", "new_gtld", "other"];
const ALLOW_LISTED: [&str; 3] = ["accounts.example.com", "bank.example.org", "intranet.example.net"];

impl World for Phishing {
    fn example(&self) -> &'static str {
        "phishing-warning"
    }

    fn component(&self) -> &'static str {
        "phishing"
    }

    fn scenario(&self) -> Scenario {
        Scenario {
            name: "phishing-week",
            description: "A week of browsing by 2,000 users. Day 3: phishers move to HTTPS and longer URLs (data drift). \
                          Day 4–6: a campaign from compromised old domains that look legitimate (concept drift). \
                          Day 5: the WHOIS feed breaks and every domain looks brand new (broken feature). \
                          Day 6: a surge of traffic.",
            users: 2_000,
            requests: 20_000,
            days: 7.0,
            changes: Vec::new(),
        }
        .during(ChangeKind::DataDrift, 2.0, 7.0)
        .during(ChangeKind::ConceptDrift, 3.0, 6.0)
        .during(ChangeKind::BrokenFeature, 4.0, 4.5)
        .during(ChangeKind::Surge, 5.0, 6.0)
    }

    fn request(&self, rng: &mut ChaCha8Rng, slot: &Slot) -> Request {
        let phase = slot.phase;
        let allow_listed = bernoulli(rng, 0.05);
        let campaign = phase.concept_drift && bernoulli(rng, 0.5);
        let phishing = !allow_listed && (bernoulli(rng, 0.15) || (phase.concept_drift && bernoulli(rng, 0.1)));
        let pick = |p: f64, l: f64| if phishing { p } else { l };

        let mut url_length = if phishing { lognormal(rng, 4.4, 0.6) } else { lognormal(rng, 3.7, 0.5) };
        if phase.data_drift && phishing {
            url_length *= 1.6;
        }
        let num_subdomains = poisson(rng, pick(2.2, 0.7)).min(10);
        let num_dots = (num_subdomains + 1 + poisson(rng, pick(1.5, 0.6))).min(30);
        let num_hyphens = poisson(rng, pick(1.8, 0.4)).min(30);
        let has_ip_host = bernoulli(rng, pick(0.12, 0.005));
        let https_rate = if phase.data_drift { pick(0.85, 0.92) } else { pick(0.45, 0.9) };
        let uses_https = bernoulli(rng, https_rate);
        let mut domain_age_days =
            if phishing { exponential(rng, 90.0) } else { exponential(rng, 3000.0) + uniform(rng, 0.0, 400.0) };
        let mut suspicious_words = poisson(rng, pick(1.6, 0.15)).min(20);
        let mut tld = *choice(
            rng,
            &TLDS,
            if phishing { &[0.3, 0.05, 0.07, 0.18, 0.25, 0.15] } else { &[0.55, 0.12, 0.1, 0.15, 0.04, 0.04] },
        );
        if phishing && campaign {
            // Compromised, established sites: old domains, HTTPS, plain words.
            domain_age_days = 2000.0 + exponential(rng, 2000.0);
            suspicious_words = 0;
            tld = "com";
        }
        let mut domain_age = if has_ip_host { 0 } else { domain_age_days.round().min(20_000.0) as i64 };
        if phase.broken_feature {
            domain_age = 0;
        }
        let url_length = (url_length.round() as i64).clamp(num_dots + num_hyphens + 5, 4096);
        let domain = if allow_listed {
            ALLOW_LISTED[(slot.index % 3) as usize].to_string()
        } else {
            format!("site-{}.example", slot.index % 997)
        };
        Request {
            features: json!({
                "url_length": url_length, "num_dots": num_dots, "num_hyphens": num_hyphens,
                "has_ip_host": has_ip_host, "uses_https": uses_https, "domain_age_days": domain_age,
                "num_subdomains": num_subdomains, "suspicious_words": suspicious_words, "tld_category": tld,
            }),
            context: json!({ "domain": domain }),
            truth: Truth::either(phishing, "phishing", "legit"),
        }
    }

    fn react(
        &self,
        rng: &mut ChaCha8Rng,
        _slot: &Slot,
        request: &Request,
        answer: &Answer,
        memory: &mut UnitMemory,
        now_ms: u64,
    ) -> Vec<Reaction> {
        let truth = &request.truth;
        let phishing = truth.is("phishing");
        let mut out = Vec::new();
        match answer.mode.as_str() {
            "automate" => {
                memory.blocked.push_back(now_ms);
                out.push(Reaction::outcome("left_page"));
                if !phishing && bernoulli(rng, 0.3) {
                    out.push(
                        Reaction::incorrect(truth, "user")
                            .saying("Report incorrect phishing warning: this is a page I use every day."),
                    );
                }
            }
            "prompt" => {
                // An annoyed user — prompted often today — heeds warnings less.
                let annoyance = memory.prompt(now_ms);
                let heed = (0.85 - 0.2 * annoyance).max(0.1);
                if bernoulli(rng, heed) {
                    out.push(Reaction::outcome("left_page"));
                } else {
                    out.push(Reaction::outcome("clicked_through_warning"));
                    if phishing && bernoulli(rng, 0.5) {
                        out.push(Reaction::outcome("credentials_entered"));
                    }
                }
                if !phishing && bernoulli(rng, 0.1) {
                    out.push(Reaction::incorrect(truth, "user"));
                }
            }
            "annotate" => {
                if bernoulli(rng, 0.2) {
                    out.push(Reaction::outcome("left_page"));
                } else if phishing && bernoulli(rng, 0.4) {
                    out.push(Reaction::outcome("credentials_entered"));
                }
            }
            // A security analyst reviews the page and labels it.
            "escalate" => out.push(Reaction::label(truth, "expert")),
            _ => {
                if phishing && bernoulli(rng, 0.6) {
                    out.push(Reaction::outcome("credentials_entered"));
                }
            }
        }
        // Phishing later confirmed by the security team (takedown feeds) for some pages.
        out.extend(Reaction::recorded_later(rng, truth, answer, if phishing { 0.3 } else { 0.0 }));
        out
    }
}
