//! Typed main.cf values and their parsers: booleans, times with Postfix units, sizes, host
//! and domain names, CIDR networks, `relayhost`, `inet_interfaces`/`inet_protocols` and
//! rmail's `*_listen` lists. Pure; every parser returns a reason string on bad input (the
//! caller adds file, line and key), and every type renders back to text that parses to the
//! same value (`Display`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::syntax::{split_list, truncate};

/// A Postfix boolean: `yes` or `no`, in any case (Postfix `get_mail_conf_bool`).
pub(super) fn parse_bool(s: &str) -> Result<bool, String> {
    if s.eq_ignore_ascii_case("yes") {
        Ok(true)
    } else if s.eq_ignore_ascii_case("no") {
        Ok(false)
    } else {
        Err("expected yes or no".into())
    }
}

pub(super) fn render_bool(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// The unit a bare number means, per key (postconf(5) "time units").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeUnit {
    Millis,
    Seconds,
    Days,
}

/// A time: digits and one optional unit letter `s` `m` `h` `d` `w` (Postfix `conv_time`);
/// rmail also takes `ms` (only where `unit` is [`TimeUnit::Millis`]).
pub(super) fn parse_time(s: &str, unit: TimeUnit) -> Result<Duration, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err("expected a time: a number and an optional unit s, m, h, d or w".into());
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| "time too large".to_owned())?;
    let millis_per: u64 = match &s[digits..] {
        "" => match unit {
            TimeUnit::Millis => 1,
            TimeUnit::Seconds => 1000,
            TimeUnit::Days => 86_400_000,
        },
        "ms" if unit == TimeUnit::Millis => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        other => {
            return Err(format!(
                "unknown time unit {:?} (use s, m, h, d or w)",
                truncate(other, 10)
            ))
        }
    };
    n.checked_mul(millis_per)
        .filter(|ms| *ms <= 100 * 365 * 86_400_000)
        .map(Duration::from_millis)
        .ok_or_else(|| "time too large (more than 100 years)".to_owned())
}

/// Renders a time in the largest unit that divides it exactly (`5d`, `300s` → `5m`).
pub(super) fn render_time(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    for (unit, len) in [("w", 604_800u128), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s != 0 && s.is_multiple_of(len) {
            return format!("{}{unit}", s / len);
        }
    }
    format!("{s}s")
}

/// A non-negative integer of at most `max`, at least `min`.
pub(super) fn parse_int(s: &str, min: u64, max: u64) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a whole number".into());
    }
    let n: u64 = s.parse().map_err(|_| "number too large".to_owned())?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    if n > max {
        return Err(format!("must be at most {max}"));
    }
    Ok(n)
}

/// A host or domain name: 1–253 characters, labels of 1–63 letters, digits, `-` or `_`
/// not starting or ending with `-`, and not an IP address (Postfix `valid_hostname`).
pub(super) fn check_hostname(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty host name".into());
    }
    if s.len() > 253 {
        return Err("host name longer than 253 characters".into());
    }
    if s.parse::<IpAddr>().is_ok() {
        return Err("an IP address, not a host name".into());
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err("empty label in host name".into());
        }
        if label.len() > 63 {
            return Err("host name label longer than 63 characters".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "bad character in host name {:?}: only letters, digits, '-', '_' and '.'",
                truncate(s, 60)
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("host name label starts or ends with '-'".into());
        }
    }
    Ok(())
}

/// True when `s` looks like a Postfix lookup table (`type:name`) or a file name: things
/// rmail does not read in domain and network lists.
fn is_table_or_file(s: &str) -> bool {
    s.starts_with('/')
        || s.split_once(':').is_some_and(|(t, _)| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A `mydestination`/`relay_domains` list: domain names (lower-cased; a leading `.` kept,
/// Postfix's parent-domain form). Lookup tables and files are refused.
pub(super) fn parse_domains(s: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for item in split_list(s) {
        if is_table_or_file(item) && item.parse::<IpAddr>().is_err() {
            return Err(format!(
                "{:?}: lookup tables and files are not supported here, only domain names",
                truncate(item, 60)
            ));
        }
        check_hostname(item.strip_prefix('.').unwrap_or(item))
            .map_err(|e| format!("{:?}: {e}", truncate(item, 60)))?;
        let d = item.to_ascii_lowercase();
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// An IP network in CIDR notation, as in Postfix `mynetworks`: `10.1.1.0/24`, `[::1]/128`,
/// `::1/128`, or a bare address (`/32`, `/128`). The address has no bits set below the
/// prefix (Postfix refuses `1.2.3.4/24`, suggesting `1.2.3.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// The network `addr/prefix`. Errors: prefix longer than the address (32 or 128 bits),
    /// or host bits set.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Network, String> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("prefix length /{prefix} longer than {max} bits"));
        }
        let net = Network { addr, prefix };
        let masked = net.masked(addr);
        if masked != addr {
            return Err(format!(
                "non-null host address bits in {addr}/{prefix}, perhaps you mean {}",
                Network {
                    addr: masked,
                    prefix
                }
            ));
        }
        Ok(net)
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits (0–32 for IPv4, 0–128 for IPv6).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }

    /// True when `ip` lies in this network. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
    /// what a dual-stack socket reports) is matched as the IPv4 address it carries.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                self.masked(ip) == self.addr
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        Network::parse(s).map_err(|e| {
            if is_table_or_file(s) {
                format!(
                    "{:?}: lookup tables and files are not supported in mynetworks",
                    truncate(s, 60)
                )
            } else {
                e
            }
        })
    }
}

impl Network {
    fn parse(s: &str) -> Result<Network, String> {
        if s.starts_with('!') {
            return Err("negated entries ('!') are not supported".into());
        }
        let (addr_part, prefix) = match s.rsplit_once('/') {
            Some((a, p)) if !a.is_empty() => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("bad prefix length {:?}", truncate(p, 10)));
                }
                (a, p.parse::<u16>().ok())
            }
            _ => (s, None),
        };
        let bare = addr_part
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr_part);
        let addr: IpAddr = bare
            .parse()
            .map_err(|_| format!("{:?} is not an IP network", truncate(s, 60)))?;
        if bare.len() != addr_part.len() && addr.is_ipv4() {
            return Err("only IPv6 addresses are written in brackets".into());
        }
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => match u8::try_from(p) {
                Ok(p) if p <= max => p,
                _ => return Err(format!("prefix length /{p} longer than {max} bits")),
            },
            None if addr_part.len() == s.len() => max,
            None => return Err("bad prefix length".into()),
        };
        Network::new(addr, prefix)
    }
}

impl fmt::Display for Network {
    /// `10.1.1.0/24`, `[::1]/128` (Postfix's form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}/{}", self.prefix),
            IpAddr::V6(a) => write!(f, "[{a}]/{}", self.prefix),
        }
    }
}

/// The `relayhost` (postconf(5)): where all non-local mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayhost {
    /// Host name or IP address (an IPv6 address without brackets or `ipv6:`).
    pub host: String,
    /// TCP port, 25 unless given.
    pub port: u16,
    /// `host` or `host:port`: look up MX records for `host`; `[host]` or `[host]:port`: no
    /// MX lookup, connect to the A/AAAA addresses (or the literal address) of `host`.
    pub mx_lookup: bool,
}

impl Relayhost {
    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// A port number or one of the mail service names (services(5)).
fn parse_port(s: &str) -> Result<u16, String> {
    match s {
        "smtp" => return Ok(25),
        "submission" => return Ok(587),
        "smtps" | "submissions" => return Ok(465),
        _ => {}
    }
    match parse_int(s, 1, 65535) {
        Ok(p) => u16::try_from(p).map_err(|_| "port out of range".to_owned()),
        Err(_) => Err(format!(
            "bad port {:?}: expected 1-65535 or a service name",
            truncate(s, 20)
        )),
    }
}

/// Parses `relayhost`: empty (deliver directly), `host`, `host:port`, `[host]`,
/// `[host]:port`, `[address]`, `[ipv6:address]`.
pub(super) fn parse_relayhost(s: &str) -> Result<Option<Relayhost>, String> {
    let items: Vec<&str> = split_list(s).collect();
    let item = match items.as_slice() {
        [] => return Ok(None),
        [one] => *one,
        _ => return Err("only one relay host is supported".into()),
    };
    if let Some(rest) = item.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err("missing ']'".into());
        };
        let port = match after {
            "" => 25,
            _ => match after.strip_prefix(':') {
                Some(p) => parse_port(p)?,
                None => return Err(format!("unexpected {:?} after ']'", truncate(after, 20))),
            },
        };
        let v6 = inner
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("ipv6:"))
            .map(|_| &inner[5..]);
        let host = if let Some(a) = v6 {
            a.parse::<Ipv6Addr>()
                .map_err(|_| format!("{:?} is not an IPv6 address", truncate(a, 60)))?
                .to_string()
        } else if let Ok(a) = inner.parse::<IpAddr>() {
            a.to_string()
        } else {
            check_hostname(inner)?;
            inner.to_ascii_lowercase()
        };
        return Ok(Some(Relayhost {
            host,
            port,
            mx_lookup: false,
        }));
    }
    let (host, port) = match item.split_once(':') {
        Some((h, p)) => (h, parse_port(p)?),
        None => (item, 25),
    };
    if host.parse::<IpAddr>().is_ok() || item.parse::<IpAddr>().is_ok() {
        return Err("write an IP address in brackets: [address] or [address]:port".into());
    }
    check_hostname(host)?;
    Ok(Some(Relayhost {
        host: host.to_ascii_lowercase(),
        port,
        mx_lookup: true,
    }))
}

impl fmt::Display for Relayhost {
    /// `[host]:port` / `host:port`, the port left out when it is 25.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mx_lookup {
            f.write_str(&self.host)?;
        } else if self.host.contains(':') {
            write!(f, "[ipv6:{}]", self.host)?;
        } else {
            write!(f, "[{}]", self.host)?;
        }
        if self.port != 25 {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// `inet_protocols`: which IP versions the server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// `all` (Postfix ≥ 3.0 default) or `ipv4, ipv6`.
    All,
    /// `ipv4`.
    Ipv4,
    /// `ipv6`.
    Ipv6,
}

impl Protocols {
    /// True when IPv4 is enabled.
    pub fn ipv4(self) -> bool {
        self != Protocols::Ipv6
    }

    /// True when IPv6 is enabled.
    pub fn ipv6(self) -> bool {
        self != Protocols::Ipv4
    }

    /// True when addresses of `ip`'s family are enabled.
    pub fn allows(self, ip: IpAddr) -> bool {
        if ip.is_ipv4() {
            self.ipv4()
        } else {
            self.ipv6()
        }
    }
}

pub(super) fn parse_protocols(s: &str) -> Result<Protocols, String> {
    let (mut v4, mut v6) = (false, false);
    for item in split_list(s) {
        match item.to_ascii_lowercase().as_str() {
            "all" => (v4, v6) = (true, true),
            "ipv4" => v4 = true,
            "ipv6" => v6 = true,
            _ => {
                return Err(format!(
                    "{:?}: expected all, ipv4 or ipv6",
                    truncate(item, 20)
                ))
            }
        }
    }
    match (v4, v6) {
        (true, true) => Ok(Protocols::All),
        (true, false) => Ok(Protocols::Ipv4),
        (false, true) => Ok(Protocols::Ipv6),
        (false, false) => Err("expected all, ipv4 or ipv6".into()),
    }
}

impl fmt::Display for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocols::All => "all",
            Protocols::Ipv4 => "ipv4",
            Protocols::Ipv6 => "ipv6",
        })
    }
}

/// `inet_interfaces`: the addresses a bare listener port is opened on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interfaces {
    /// `all`: the wildcard addresses `0.0.0.0` and `::`.
    All,
    /// `loopback-only`: `127.0.0.1` and `::1`.
    LoopbackOnly,
    /// A list of IP addresses (`[::1]` or `::1` for IPv6). Host names are not accepted.
    Addresses(Vec<IpAddr>),
}

impl Interfaces {
    /// The concrete addresses to bind, restricted to the enabled protocols.
    pub fn addresses(&self, protocols: Protocols) -> Vec<IpAddr> {
        let pair = |v4: Ipv4Addr, v6: Ipv6Addr| {
            let mut v = Vec::new();
            if protocols.ipv4() {
                v.push(IpAddr::V4(v4));
            }
            if protocols.ipv6() {
                v.push(IpAddr::V6(v6));
            }
            v
        };
        match self {
            Interfaces::All => pair(Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED),
            Interfaces::LoopbackOnly => pair(Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST),
            Interfaces::Addresses(a) => a
                .iter()
                .copied()
                .filter(|ip| protocols.allows(*ip))
                .collect(),
        }
    }
}

pub(super) fn parse_interfaces(s: &str, protocols: Protocols) -> Result<Interfaces, String> {
    let items: Vec<&str> = split_list(s).collect();
    match items.as_slice() {
        [] => return Err("empty: use all, loopback-only or a list of addresses".into()),
        [one] if one.eq_ignore_ascii_case("all") => return Ok(Interfaces::All),
        [one] if one.eq_ignore_ascii_case("loopback-only") => return Ok(Interfaces::LoopbackOnly),
        _ => {}
    }
    let mut out: Vec<IpAddr> = Vec::new();
    for item in items {
        let bare = item
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(item);
        let ip: IpAddr = bare.parse().map_err(|_| {
            format!(
                "{:?}: expected all, loopback-only or IP addresses (host names are not \
                 supported)",
                truncate(item, 60)
            )
        })?;
        if !protocols.allows(ip) {
            return Err(format!(
                "{ip}: its IP version is disabled by inet_protocols"
            ));
        }
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    Ok(Interfaces::Addresses(out))
}

impl fmt::Display for Interfaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interfaces::All => f.write_str("all"),
            Interfaces::LoopbackOnly => f.write_str("loopback-only"),
            Interfaces::Addresses(a) => {
                let v: Vec<String> = a.iter().map(IpAddr::to_string).collect();
                f.write_str(&v.join(", "))
            }
        }
    }
}

/// Parses a `*_listen` value into socket addresses: items `port` (that port on every
/// `inet_interfaces` address), `address:port` or `[ipv6]:port` (`*:port` is a bare port).
/// Empty: the listener is off. Duplicates are dropped.
pub(super) fn parse_listen(
    s: &str,
    interfaces: &Interfaces,
    protocols: Protocols,
) -> Result<Vec<SocketAddr>, String> {
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut add = |sa: SocketAddr| {
        if !out.contains(&sa) {
            out.push(sa);
        }
    };
    for item in split_list(s) {
        let item = item.strip_prefix("*:").unwrap_or(item);
        if item.bytes().all(|b| b.is_ascii_digit()) {
            let port = parse_port(item)?;
            for ip in interfaces.addresses(protocols) {
                add(SocketAddr::new(ip, port));
            }
            continue;
        }
        let sa: SocketAddr = match item.parse() {
            Ok(sa) => sa,
            Err(_) if item.parse::<IpAddr>().is_ok() => {
                return Err(format!(
                    "{:?}: missing port (write address:port, [ipv6]:port or a port)",
                    truncate(item, 60)
                ))
            }
            Err(_) => {
                return Err(format!(
                    "{:?}: expected a port, address:port or [ipv6]:port",
                    truncate(item, 60)
                ))
            }
        };
        if !protocols.allows(sa.ip()) {
            return Err(format!(
                "{sa}: its IP version is disabled by inet_protocols"
            ));
        }
        add(sa);
    }
    Ok(out)
}

pub(super) fn render_listen(v: &[SocketAddr]) -> String {
    let v: Vec<String> = v.iter().map(SocketAddr::to_string).collect();
    v.join(", ")
}

/// `smtpd_tls_security_level` (postconf(5)): TLS for the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpdTlsLevel {
    /// No STARTTLS.
    None,
    /// STARTTLS offered, not required (opportunistic, RFC 3207).
    May,
    /// STARTTLS required before MAIL (RFC 3207 §4: `530 5.7.0`).
    Encrypt,
}

pub(super) fn parse_smtpd_tls_level(s: &str) -> Result<SmtpdTlsLevel, String> {
    match s.to_ascii_lowercase().as_str() {
        "" | "none" => Ok(SmtpdTlsLevel::None),
        "may" => Ok(SmtpdTlsLevel::May),
        "encrypt" => Ok(SmtpdTlsLevel::Encrypt),
        _ => Err("expected none, may or encrypt".into()),
    }
}

impl fmt::Display for SmtpdTlsLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmtpdTlsLevel::None => "none",
            SmtpdTlsLevel::May => "may",
            SmtpdTlsLevel::Encrypt => "encrypt",
        })
    }
}

/// `smtp_tls_security_level` (postconf(5)): TLS for outbound SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTlsLevel {
    /// Plain text.
    None,
    /// STARTTLS when offered, certificate not checked.
    May,
    /// TLS required, certificate not checked.
    Encrypt,
    /// TLS required, certificate chain verified (the MX name is trusted from DNS).
    Verify,
    /// TLS required, certificate verified against the next-hop domain name.
    Secure,
}

pub(super) fn parse_smtp_tls_level(s: &str) -> Result<SmtpTlsLevel, String> {
    match s.to_ascii_lowercase().as_str() {
        "" | "none" => Ok(SmtpTlsLevel::None),
        "may" => Ok(SmtpTlsLevel::May),
        "encrypt" => Ok(SmtpTlsLevel::Encrypt),
        "verify" => Ok(SmtpTlsLevel::Verify),
        "secure" => Ok(SmtpTlsLevel::Secure),
        "dane" | "dane-only" | "fingerprint" => Err(format!("level {s} is not supported by rmail")),
        _ => Err("expected none, may, encrypt, verify or secure".into()),
    }
}

impl fmt::Display for SmtpTlsLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SmtpTlsLevel::None => "none",
            SmtpTlsLevel::May => "may",
            SmtpTlsLevel::Encrypt => "encrypt",
            SmtpTlsLevel::Verify => "verify",
            SmtpTlsLevel::Secure => "secure",
        })
    }
}

/// `home_mailbox` (postconf(5)): where local(8) delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeMailbox {
    /// Empty: the mbox `mail_spool_directory/USER`.
    Spool,
    /// An mbox file at this path relative to the user's home (`Mailbox`).
    Mbox(PathBuf),
    /// A Maildir at this path relative to the user's home (written with a trailing `/`:
    /// `Maildir/`).
    Maildir(PathBuf),
}

pub(super) fn parse_home_mailbox(s: &str) -> Result<HomeMailbox, String> {
    if s.is_empty() {
        return Ok(HomeMailbox::Spool);
    }
    if s.starts_with('/') {
        return Err("must be a path relative to the home directory".into());
    }
    if s.contains('\0') {
        return Err("NUL in path".into());
    }
    match s.strip_suffix('/') {
        Some(dir) => Ok(HomeMailbox::Maildir(PathBuf::from(
            dir.trim_end_matches('/'),
        ))),
        None => Ok(HomeMailbox::Mbox(PathBuf::from(s))),
    }
}

impl fmt::Display for HomeMailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HomeMailbox::Spool => Ok(()),
            HomeMailbox::Mbox(p) => write!(f, "{}", p.display()),
            HomeMailbox::Maildir(p) => write!(f, "{}/", p.display()),
        }
    }
}

/// `user_database` (rmail's own): who may log in to POP3/IMAP/submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserDatabase {
    /// `system`: the system's users and their shadow passwords (needs root to read).
    System,
    /// rmail's own user file at this absolute path.
    File(PathBuf),
}

pub(super) fn parse_user_database(s: &str) -> Result<UserDatabase, String> {
    if s == "system" {
        Ok(UserDatabase::System)
    } else {
        parse_abs_path(s).map(UserDatabase::File)
    }
}

impl fmt::Display for UserDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserDatabase::System => f.write_str("system"),
            UserDatabase::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// An absolute path.
pub(super) fn parse_abs_path(s: &str) -> Result<PathBuf, String> {
    if !s.starts_with('/') {
        return Err("expected an absolute path".into());
    }
    if s.contains('\0') {
        return Err("NUL in path".into());
    }
    Ok(PathBuf::from(s))
}

/// An optional absolute path: empty means none.
pub(super) fn parse_opt_path(s: &str) -> Result<Option<PathBuf>, String> {
    if s.is_empty() {
        Ok(None)
    } else {
        parse_abs_path(s).map(Some)
    }
}

/// Table types whose source file rmail reads itself (the `type:` prefix is dropped).
const FILE_TABLES: &[&str] = &["hash", "texthash", "lmdb", "btree", "dbm", "cdb"];

/// One lookup table `type:/path` (or a bare path) → the path. `Ok(None)` for `nis:` tables,
/// which are skipped (they are in Postfix's own historical default).
pub(super) fn parse_table(s: &str) -> Result<Option<PathBuf>, String> {
    if let Some((kind, path)) = s.split_once(':') {
        if kind == "nis" {
            return Ok(None);
        }
        if !FILE_TABLES.contains(&kind) {
            return Err(format!(
                "lookup table type {:?} is not supported (use hash:, texthash:, lmdb: or a \
                 path)",
                truncate(kind, 20)
            ));
        }
        return parse_abs_path(path).map(Some);
    }
    parse_abs_path(s).map(Some)
}

/// A user or group name as useradd(8) allows: letters, digits, `.`, `_`, `-`, not starting
/// with `-`, at most 32 bytes.
pub(super) fn check_user_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 32 || s.starts_with('-') {
        return Err("expected a user name".into());
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("bad character in user name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn relayhost_forms() {
        let r = |s: &str| parse_relayhost(s).unwrap();
        let rh = |host: &str, port, mx_lookup| {
            Some(Relayhost {
                host: host.into(),
                port,
                mx_lookup,
            })
        };
        assert_eq!(r(""), None);
        assert_eq!(r("mail.isp.example"), rh("mail.isp.example", 25, true));
        assert_eq!(
            r("Mail.ISP.example:2525"),
            rh("mail.isp.example", 2525, true)
        );
        assert_eq!(r("[mail.isp.example]"), rh("mail.isp.example", 25, false));
        assert_eq!(r("[192.0.2.1]:587"), rh("192.0.2.1", 587, false));
        assert_eq!(r("[ipv6:2001:db8::1]:465"), rh("2001:db8::1", 465, false));
        assert_eq!(r("[2001:db8::1]"), rh("2001:db8::1", 25, false));
        assert_eq!(r("[192.0.2.1]:587").unwrap().ip(), Some(ip("192.0.2.1")));
        for s in [
            "mail.isp.example",
            "h.example:2525",
            "[h.example]",
            "[192.0.2.1]:587",
            "[ipv6:2001:db8::1]:465",
        ] {
            let v = r(s).unwrap();
            assert_eq!(r(&v.to_string()), Some(v), "{s}");
        }
    }

    #[test]
    fn cidr_parsing_and_containment() {
        let n = |s: &str| s.parse::<Network>().unwrap();
        let bad = |s: &str| assert!(s.parse::<Network>().is_err(), "{s} accepted");

        let lan = n("10.1.1.0/24");
        assert!(lan.contains(ip("10.1.1.0")) && lan.contains(ip("10.1.1.255")));
        assert!(!lan.contains(ip("10.1.2.0")) && !lan.contains(ip("10.1.0.255")));
        assert!(!lan.contains(ip("::1")));
        // IPv4-mapped IPv6, as a dual-stack socket reports an IPv4 peer.
        assert!(lan.contains(ip("::ffff:10.1.1.7")));

        let all4 = n("0.0.0.0/0");
        assert!(all4.contains(ip("255.255.255.255")) && all4.contains(ip("0.0.0.0")));
        assert!(!all4.contains(ip("2001:db8::1")));
        let one = n("192.0.2.7/32");
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.6")));
        assert_eq!(n("192.0.2.7"), one);

        let lo6 = n("[::1]/128");
        assert_eq!(lo6, n("::1/128"));
        assert_eq!(lo6, n("[::1]"));
        assert_eq!(lo6, n("::1"));
        assert!(lo6.contains(ip("::1")) && !lo6.contains(ip("::2")));
        assert!(!lo6.contains(ip("127.0.0.1")));
        let all6 = n("[::]/0");
        assert!(all6.contains(ip("ffff::1")) && !all6.contains(ip("10.0.0.1")));
        let doc = n("[2001:db8::]/32");
        assert!(doc.contains(ip("2001:db8:ffff::1")) && !doc.contains(ip("2001:db9::")));
        let odd = n("2001:db8::/33");
        assert!(odd.contains(ip("2001:db8:7fff::")) && !odd.contains(ip("2001:db8:8000::")));
        assert_eq!((odd.addr(), odd.prefix()), (ip("2001:db8::"), 33));
        let four = n("0.0.0.0/1");
        assert!(four.contains(ip("127.255.255.255")) && !four.contains(ip("128.0.0.0")));
        bad("10.0.0.0/1x");
        bad("10.0.0.1/0");
        bad("10.0.0.0/33");
        bad("[::1]/129");
        bad("::1/-1");
        bad("256.0.0.0/8");
        bad("10.0.0/8");
        bad("[::1");
        bad("/8");
        bad("");
        bad("[::1]/");
        bad("fe80::1%eth0/64");
        // Display is Postfix's form and parses back.
        for s in [
            "10.1.1.0/24",
            "[::1]/128",
            "0.0.0.0/0",
            "[::]/0",
            "[2001:db8::]/32",
        ] {
            assert_eq!(n(s).to_string(), s);
            assert_eq!(n(&n(s).to_string()), n(s));
        }
    }

    #[test]
    fn time_units() {
        let s = |v: &str| parse_time(v, TimeUnit::Seconds);
        assert_eq!(s("300"), Ok(Duration::from_secs(300)));
        assert_eq!(s("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(s("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(s("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(s("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(s("1w"), Ok(Duration::from_secs(604_800)));
        assert_eq!(s("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_time("5", TimeUnit::Days),
            Ok(Duration::from_secs(432_000))
        );
        assert_eq!(
            parse_time("5h", TimeUnit::Days),
            Ok(Duration::from_secs(18_000))
        );
        assert_eq!(
            parse_time("250", TimeUnit::Millis),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            parse_time("250ms", TimeUnit::Millis),
            Ok(Duration::from_millis(250))
        );
        assert_eq!(
            parse_time("2s", TimeUnit::Millis),
            Ok(Duration::from_secs(2))
        );
        for bad in [
            "",
            "s",
            "-1",
            "1.5h",
            "5 m",
            "5M",
            "5ms",
            "1y",
            "99999999999999999999",
        ] {
            assert!(s(bad).is_err(), "{bad} accepted");
        }
        assert!(s("5300000w").is_err());
        assert_eq!(render_time(Duration::from_secs(300)), "5m");
        assert_eq!(render_time(Duration::from_secs(4000)), "4000s");
        assert_eq!(render_time(Duration::from_secs(432_000)), "5d");
        assert_eq!(render_time(Duration::from_secs(1_209_600)), "2w");
        assert_eq!(render_time(Duration::ZERO), "0s");
        assert_eq!(render_time(Duration::from_millis(1500)), "1500ms");
    }
}
