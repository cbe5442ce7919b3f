//! Mail provider presets: one row of data per provider (hosts, ports, TLS mode, quirks).
//!
//! Presets are data (STYLE habit 11): a provider's oddities are named flags in [`Quirks`],
//! read by the code that needs them (`imap_id` by an IMAP client, `auth_code` by `rmail account
//! add`'s hints), never `if provider == "163"` in protocol code.
//!
//! Ports follow RFC 8314: IMAPS 993, POP3S 995 and SMTP submission over implicit TLS 465
//! (`submissions`); 587 is submission with STARTTLS (RFC 6409). Each row's doc comment says
//! where its values were checked; "unverified" rows carry the widely published values and
//! should be checked against the provider's help pages before being relied on.

/// How a client secures its connection to an [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// TLS from the first byte (RFC 8314 §3): IMAPS 993, POP3S 995, SMTP submissions 465.
    Implicit,
    /// A plain connection upgraded with STARTTLS (RFC 3207 for SMTP), typically port 587.
    StartTls,
}

impl Tls {
    /// The short name printed by `rmail presets`: `SSL/TLS` or `STARTTLS`.
    pub fn label(self) -> &'static str {
        match self {
            Tls::Implicit => "SSL/TLS",
            Tls::StartTls => "STARTTLS",
        }
    }
}

/// One server of a provider: host name, TCP port and TLS mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// DNS name of the server.
    pub host: &'static str,
    /// TCP port.
    pub port: u16,
    /// Implicit TLS or STARTTLS.
    pub tls: Tls,
}

/// Provider behaviour that a generic client must be told about. All `false` means a plain
/// standards-following provider that accepts the account password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// SMTP/IMAP/POP3 log in with an *authorization code* (授权码) generated in the web
    /// settings, not the account password (QQ, NetEase, China Mobile 139).
    pub auth_code: bool,
    /// The IMAP server refuses `SELECT` ("Unsafe Login") unless the client first sends the
    /// `ID` command (RFC 2971) naming itself (NetEase 163, 126, yeah.net).
    pub imap_id: bool,
    /// Password logins are refused: SASL XOAUTH2/OAUTHBEARER (OAuth 2.0) is required
    /// (Outlook.com, Microsoft 365): rmail sends XOAUTH2 with the token printed by
    /// `oauth2-token-command`.
    pub oauth2_required: bool,
    /// Log in with an app-specific password (needs two-step verification on the account),
    /// not the account password (Gmail, Yahoo, iCloud).
    pub app_password: bool,
    /// The provider has no POP3 service (iCloud); [`Preset::pop3`] is then `None`.
    pub no_pop3: bool,
}

/// One provider: what `rmail presets` lists and `rmail account add` writes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Short name used on the command line (`rmail account add NAME …`), lower case.
    pub name: &'static str,
    /// Human-readable provider name.
    pub title: &'static str,
    /// Address domains served by this provider, lower case, for [`for_address`]; empty for
    /// hosted services where every customer brings their own domain (QQ exmail, Microsoft 365).
    pub domains: &'static [&'static str],
    /// Outgoing mail (SMTP submission).
    pub smtp: Endpoint,
    /// Incoming mail over IMAP, if offered.
    pub imap: Option<Endpoint>,
    /// Incoming mail over POP3, if offered.
    pub pop3: Option<Endpoint>,
    /// Provider quirks, as named flags.
    pub quirks: Quirks,
}

const fn tls(host: &'static str, port: u16) -> Endpoint {
    Endpoint {
        host,
        port,
        tls: Tls::Implicit,
    }
}

const fn starttls(host: &'static str, port: u16) -> Endpoint {
    Endpoint {
        host,
        port,
        tls: Tls::StartTls,
    }
}

const NONE: Quirks = Quirks {
    auth_code: false,
    imap_id: false,
    oauth2_required: false,
    app_password: false,
    no_pop3: false,
};
const AUTH_CODE: Quirks = Quirks {
    auth_code: true,
    ..NONE
};
const NETEASE: Quirks = Quirks {
    auth_code: true,
    imap_id: true,
    ..NONE
};
const APP_PASSWORD: Quirks = Quirks {
    app_password: true,
    ..NONE
};
const OAUTH2: Quirks = Quirks {
    oauth2_required: true,
    ..NONE
};

/// Every preset, in the order `rmail presets` prints them.
pub static PRESETS: &[Preset] = &[
    // Checked against third-party setup pages (topmailsender.com, cloud.kd.cn): SMTP 465
    // SSL, IMAP 993, POP3 995, 16-character authorization code required.
    Preset {
        name: "qq",
        title: "QQ Mail (Tencent)",
        domains: &["qq.com", "vip.qq.com"],
        smtp: tls("smtp.qq.com", 465),
        imap: Some(tls("imap.qq.com", 993)),
        pop3: Some(tls("pop.qq.com", 995)),
        quirks: AUTH_CODE,
    },
    // Checked against third-party pages (67wa.com, qingmeilv.cn): smtp.exmail.qq.com 465
    // SSL, IMAP 993, POP3 995. Authorization codes only when "secure login" is switched on.
    Preset {
        name: "exmail",
        title: "Tencent Exmail (QQ enterprise)",
        domains: &[],
        smtp: tls("smtp.exmail.qq.com", 465),
        imap: Some(tls("imap.exmail.qq.com", 993)),
        pop3: Some(tls("pop.exmail.qq.com", 995)),
        quirks: NONE,
    },
    // Foxmail addresses are QQ Mail accounts on the same servers (topmailsender.com: "server
    // parameters identical"); we use the qq.com host names. The seed's smtp.foxmail.com names
    // are unverified.
    Preset {
        name: "foxmail",
        title: "Foxmail (Tencent)",
        domains: &["foxmail.com"],
        smtp: tls("smtp.qq.com", 465),
        imap: Some(tls("imap.qq.com", 993)),
        pop3: Some(tls("pop.qq.com", 995)),
        quirks: AUTH_CODE,
    },
    // Checked against third-party pages (note.lispstudio.com, cloud.kd.cn, topmailsender.com):
    // 465/993/995 over SSL, client authorization code, "SELECT Unsafe Login" without IMAP ID.
    Preset {
        name: "163",
        title: "NetEase 163 Mail",
        domains: &["163.com"],
        smtp: tls("smtp.163.com", 465),
        imap: Some(tls("imap.163.com", 993)),
        pop3: Some(tls("pop.163.com", 995)),
        quirks: NETEASE,
    },
    // Same NetEase platform as 163 (topmailsender.com lists 126 and yeah.net with it); the
    // per-domain host names and ports are unverified.
    Preset {
        name: "126",
        title: "NetEase 126 Mail",
        domains: &["126.com"],
        smtp: tls("smtp.126.com", 465),
        imap: Some(tls("imap.126.com", 993)),
        pop3: Some(tls("pop.126.com", 995)),
        quirks: NETEASE,
    },
    // Same NetEase platform as 163; host names and ports unverified.
    Preset {
        name: "yeah",
        title: "NetEase yeah.net Mail",
        domains: &["yeah.net"],
        smtp: tls("smtp.yeah.net", 465),
        imap: Some(tls("imap.yeah.net", 993)),
        pop3: Some(tls("pop.yeah.net", 995)),
        quirks: NETEASE,
    },
    // NetEase's free enterprise tier (ym.163.com); host names from the seed table, ports
    // unverified (NetEase also documents 994 for SMTP over SSL on some tiers).
    Preset {
        name: "ym163",
        title: "NetEase enterprise mail, free tier (ym.163.com)",
        domains: &[],
        smtp: tls("smtp.ym.163.com", 465),
        imap: Some(tls("imap.ym.163.com", 993)),
        pop3: Some(tls("pop.ym.163.com", 995)),
        quirks: NONE,
    },
    // NetEase's paid enterprise mail; host names checked (note.lispstudio.com lists
    // smtp/imap.qiye.163.com and pop3.qiye.163.com), ports unverified.
    Preset {
        name: "qiye163",
        title: "NetEase enterprise mail (qiye.163.com)",
        domains: &[],
        smtp: tls("smtp.qiye.163.com", 465),
        imap: Some(tls("imap.qiye.163.com", 993)),
        pop3: Some(tls("pop.qiye.163.com", 995)),
        quirks: NONE,
    },
    // Checked against Google's text as quoted by mailconfiguration.com ("Use port 465, or port
    // 587 if your client begins with plain text before issuing the STARTTLS command"), IMAP
    // 993, POP 995; app passwords (coldrelay.com, ditlead.com).
    Preset {
        name: "gmail",
        title: "Gmail",
        domains: &["gmail.com", "googlemail.com"],
        smtp: tls("smtp.gmail.com", 465),
        imap: Some(tls("imap.gmail.com", 993)),
        pop3: Some(tls("pop.gmail.com", 995)),
        quirks: APP_PASSWORD,
    },
    // Checked against Microsoft's "POP, IMAP, and SMTP settings for Outlook.com" (support
    // article 8361e398, via a mirror): IMAP/POP outlook.office365.com 993/995 SSL/TLS, SMTP
    // smtp-mail.outlook.com 587 STARTTLS, "requires the use of Modern Auth / OAuth2".
    Preset {
        name: "outlook",
        title: "Outlook.com (Microsoft, personal)",
        domains: &["outlook.com", "hotmail.com", "live.com"],
        smtp: starttls("smtp-mail.outlook.com", 587),
        imap: Some(tls("outlook.office365.com", 993)),
        pop3: Some(tls("outlook.office365.com", 995)),
        quirks: OAUTH2,
    },
    // Checked against several configuration notes (gist bebrooke, pastebin 1GkGaLnW,
    // docs.vismasoftware.no): smtp.office365.com 587 STARTTLS, outlook.office365.com 993/995,
    // OAuth2.
    Preset {
        name: "office365",
        title: "Microsoft 365 (Office 365)",
        domains: &[],
        smtp: starttls("smtp.office365.com", 587),
        imap: Some(tls("outlook.office365.com", 993)),
        pop3: Some(tls("outlook.office365.com", 995)),
        quirks: OAUTH2,
    },
    // Unverified: host names from the seed table, RFC 8314 ports.
    Preset {
        name: "sina",
        title: "Sina Mail",
        domains: &["sina.com", "sina.cn"],
        smtp: tls("smtp.sina.com", 465),
        imap: Some(tls("imap.sina.com", 993)),
        pop3: Some(tls("pop3.sina.com", 995)),
        quirks: NONE,
    },
    // Checked against third-party pages (unanswered.io, xenocept.com): IMAP 993, POP 995,
    // SMTP 465 SSL or 587 STARTTLS, app password required.
    Preset {
        name: "yahoo",
        title: "Yahoo Mail",
        domains: &["yahoo.com"],
        smtp: tls("smtp.mail.yahoo.com", 465),
        imap: Some(tls("imap.mail.yahoo.com", 993)),
        pop3: Some(tls("pop.mail.yahoo.com", 995)),
        quirks: APP_PASSWORD,
    },
    // Unverified: host names from the seed table (also xiayuyun.com), RFC 8314 ports;
    // authorization code per the seed README.
    Preset {
        name: "139",
        title: "China Mobile 139 Mail",
        domains: &["139.com"],
        smtp: tls("smtp.139.com", 465),
        imap: Some(tls("imap.139.com", 993)),
        pop3: Some(tls("pop.139.com", 995)),
        quirks: AUTH_CODE,
    },
    // Unverified: host names from the seed table, RFC 8314 ports.
    Preset {
        name: "189",
        title: "China Telecom 189 Mail",
        domains: &["189.cn"],
        smtp: tls("smtp.189.cn", 465),
        imap: Some(tls("imap.189.cn", 993)),
        pop3: Some(tls("pop.189.cn", 995)),
        quirks: NONE,
    },
    // Unverified: host names from the seed table, RFC 8314 ports.
    Preset {
        name: "china",
        title: "china.com Mail",
        domains: &["china.com"],
        smtp: tls("smtp.china.com", 465),
        imap: Some(tls("imap.china.com", 993)),
        pop3: Some(tls("pop.china.com", 995)),
        quirks: NONE,
    },
    // Checked against third-party pages (sowebmail.com, skymigrate.com, lifewire.com):
    // IMAP imap.mail.me.com 993 SSL, SMTP smtp.mail.me.com 587 STARTTLS, no POP, app-specific
    // password required.
    Preset {
        name: "icloud",
        title: "iCloud Mail (Apple)",
        domains: &["icloud.com", "me.com", "mac.com"],
        smtp: starttls("smtp.mail.me.com", 587),
        imap: Some(tls("imap.mail.me.com", 993)),
        pop3: None,
        quirks: Quirks {
            app_password: true,
            no_pop3: true,
            ..NONE
        },
    },
];

/// The preset called `name` (ASCII case-insensitive), if any.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The preset serving `addr`'s domain (the part after the last `@`, case-insensitive), if
/// any. Hosted services without fixed domains (exmail, Microsoft 365) are never returned.
pub fn for_address(addr: &str) -> Option<&'static Preset> {
    let domain = addr.trim().trim_end_matches('>').rsplit_once('@')?.1;
    PRESETS
        .iter()
        .find(|p| p.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
}

impl Preset {
    /// Short notes derived from [`Quirks`], for `rmail presets` and `rmail account add`:
    /// e.g. `["authorization code", "IMAP ID"]`.
    pub fn notes(&self) -> Vec<&'static str> {
        let q = self.quirks;
        let mut v = Vec::new();
        if q.auth_code {
            v.push("authorization code");
        }
        if q.imap_id {
            v.push("IMAP ID");
        }
        if q.app_password {
            v.push("app password");
        }
        if q.oauth2_required {
            v.push("OAuth2 required (XOAUTH2)");
        }
        if q.no_pop3 {
            v.push("no POP3");
        }
        v
    }

    /// The s-nail `mta` URL for `user` (percent-encoded, RFC 3986 userinfo):
    /// `smtps://USER@HOST:PORT` for implicit TLS, `submission://USER@HOST:PORT` for STARTTLS.
    pub fn mta_url(&self, user: &str) -> String {
        let scheme = match self.smtp.tls {
            Tls::Implicit => "smtps",
            Tls::StartTls => "submission",
        };
        format!(
            "{scheme}://{}@{}:{}",
            encode_userinfo(user),
            self.smtp.host,
            self.smtp.port
        )
    }
}

impl Preset {
    /// The `imaps://USER@HOST:PORT/PATH` folder URL of the preset's IMAP server for `user`
    /// (percent-encoded; `path` is a mailbox name, or empty for the server itself); `None`
    /// when the provider has no IMAP.
    pub fn imap_url(&self, user: &str, path: &str) -> Option<String> {
        let e = self.imap?;
        let scheme = match e.tls {
            Tls::Implicit => "imaps",
            Tls::StartTls => "imap",
        };
        let q = if e.tls == Tls::StartTls {
            "?starttls"
        } else {
            ""
        };
        let path = if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        };
        Some(format!(
            "{scheme}://{}@{}:{}{path}{q}",
            encode_userinfo(user),
            e.host,
            e.port
        ))
    }

    /// The `pop3s://USER@HOST:PORT` URL of the preset's POP3 server for `user`; `None` when
    /// the provider has no POP3.
    pub fn pop3_url(&self, user: &str) -> Option<String> {
        let e = self.pop3?;
        let (scheme, q) = match e.tls {
            Tls::Implicit => ("pop3s", ""),
            Tls::StartTls => ("pop3", "?starttls"),
        };
        Some(format!(
            "{scheme}://{}@{}:{}{q}",
            encode_userinfo(user),
            e.host,
            e.port
        ))
    }
}

/// `rmail presets`: a header line and one line per preset with its name, SMTP `host:port`
/// and TLS mode, IMAP and POP3 `host:port` (`-` when not offered, both implicit TLS) and the
/// notes from [`Preset::notes`], in aligned columns.
pub fn table() -> String {
    let ep = |e: Option<Endpoint>| {
        e.map_or_else(|| "-".to_owned(), |e| format!("{}:{}", e.host, e.port))
    };
    let mut rows = vec![[
        "NAME".to_owned(),
        "SMTP".to_owned(),
        "IMAP".to_owned(),
        "POP3".to_owned(),
        "NOTES".to_owned(),
    ]];
    for p in PRESETS {
        rows.push([
            p.name.to_owned(),
            format!("{}:{} {}", p.smtp.host, p.smtp.port, p.smtp.tls.label()),
            ep(p.imap),
            ep(p.pop3),
            p.notes().join(", "),
        ]);
    }
    let mut width = [0usize; 4];
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.len());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i < 4 {
                line.push_str(&format!("{c:<w$}  ", w = width[i]));
            } else {
                line.push_str(c);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Percent-encodes everything outside RFC 3986 `unreserved` (so `@` becomes `%40`).
fn encode_userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn endpoints(p: &Preset) -> Vec<(&'static str, Endpoint)> {
        let mut v = vec![("smtp", p.smtp)];
        v.extend(p.imap.map(|e| ("imap", e)));
        v.extend(p.pop3.map(|e| ("pop3", e)));
        v
    }

    #[test]
    fn ports_match_tls_mode() {
        for p in PRESETS {
            for (proto, e) in endpoints(p) {
                let ok = match (proto, e.tls) {
                    // RFC 8314: 465 submissions; RFC 6409 + 3207: 587 with STARTTLS.
                    ("smtp", Tls::Implicit) => e.port == 465,
                    ("smtp", Tls::StartTls) => e.port == 587,
                    ("imap", Tls::Implicit) => e.port == 993,
                    ("pop3", Tls::Implicit) => e.port == 995,
                    _ => false,
                };
                assert!(ok, "{}: {proto} {}:{} {:?}", p.name, e.host, e.port, e.tls);
            }
        }
    }

    #[test]
    fn hosts_are_plausible() {
        for p in PRESETS {
            for (_, e) in endpoints(p) {
                let h = e.host;
                assert!(
                    h.split('.').count() >= 3,
                    "{}: {h} is not a full host name",
                    p.name
                );
                assert!(
                    h.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b"-.".contains(&b)),
                    "{}: {h}",
                    p.name
                );
                let tld = h.rsplit('.').next().unwrap();
                assert!(["com", "cn", "net"].contains(&tld), "{}: {h}", p.name);
                assert!(!h.contains(".comm") && !h.contains(".."), "{}: {h}", p.name);
                // The seed table's retired Outlook hosts.
                assert!(!h.ends_with("live.com"), "{}: {h}", p.name);
            }
        }
    }

    #[test]
    fn names_and_domains_unique() {
        let mut names = HashSet::new();
        let mut domains = HashSet::new();
        for p in PRESETS {
            assert!(names.insert(p.name), "duplicate preset {}", p.name);
            assert_eq!(p.name, p.name.to_ascii_lowercase());
            for d in p.domains {
                assert_eq!(*d, d.to_ascii_lowercase());
                assert!(domains.insert(*d), "domain {d} in two presets");
            }
        }
    }

    #[test]
    fn quirks_agree_with_endpoints() {
        for p in PRESETS {
            assert_eq!(p.quirks.no_pop3, p.pop3.is_none(), "{}", p.name);
        }
        assert!(find("163").unwrap().quirks.imap_id);
        assert!(find("qq").unwrap().quirks.auth_code);
        assert!(find("outlook").unwrap().quirks.oauth2_required);
        assert!(find("gmail").unwrap().quirks.app_password);
    }

    #[test]
    fn lookup_by_name_and_address() {
        assert_eq!(find("Gmail").unwrap().smtp.host, "smtp.gmail.com");
        assert!(find("nope").is_none());
        assert_eq!(for_address("a@HOTMAIL.com").unwrap().name, "outlook");
        assert_eq!(for_address("<b@qq.com>").unwrap().name, "qq");
        assert!(for_address("c@example.org").is_none());
        assert!(for_address("no-at-sign").is_none());
    }

    #[test]
    fn mta_urls() {
        assert_eq!(
            find("qq").unwrap().mta_url("alice@qq.com"),
            "smtps://alice%40qq.com@smtp.qq.com:465"
        );
        assert_eq!(
            find("outlook").unwrap().mta_url("bob@outlook.com"),
            "submission://bob%40outlook.com@smtp-mail.outlook.com:587"
        );
    }
}
