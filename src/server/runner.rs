//! The queue runner (Postfix's qmgr): every `queue_run_delay`, or at once when a message was
//! queued, takes the messages whose next attempt is due, routes each remaining recipient
//! again, delivers local ones, relays the others (grouped by next hop), then — in this order,
//! so that a crash never loses mail (see [`crate::queue`]) — queues a bounce for permanent
//! failures, and updates or removes the queue file. Messages past `maximal_queue_lifetime`
//! (`bounce_queue_lifetime` for bounces) are bounced with their last error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::queue::{Failure, QueueId, Recipient};

use super::deliver::Delivery;
use super::log;
use super::relay::{RcptResult, RelayConfig};
use super::route::Route;

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// `queue_run_delay`.
    pub run_delay: Duration,
    /// `minimal_backoff_time`.
    pub min_backoff: Duration,
    /// `maximal_backoff_time`.
    pub max_backoff: Duration,
    /// `maximal_queue_lifetime`.
    pub lifetime: Duration,
    /// `bounce_queue_lifetime`.
    pub bounce_lifetime: Duration,
    /// The relay client's settings.
    pub relay: RelayConfig,
}

/// Runs until `shutdown` turns true. `flush` wakes it for `rmail queue flush`-style runs
/// that ignore back-off.
pub async fn run(
    delivery: Arc<Delivery>,
    cfg: RunnerConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let flush = std::mem::take(&mut *FLUSH.lock().unwrap_or_else(|e| e.into_inner()));
        run_once(&delivery, &cfg, flush).await;
        tokio::select! {
            _ = tokio::time::sleep(cfg.run_delay) => {}
            _ = delivery.kick.notified() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

static FLUSH: std::sync::Mutex<bool> = std::sync::Mutex::new(false);

/// Makes the next run try every queued message regardless of its back-off (SIGUSR1, as
/// `postqueue -f` asks qmgr).
pub fn request_flush() {
    *FLUSH.lock().unwrap_or_else(|e| e.into_inner()) = true;
}

/// One pass over the queue; `all` ignores back-off (flush).
pub async fn run_once(delivery: &Arc<Delivery>, cfg: &RunnerConfig, all: bool) {
    let now = SystemTime::now();
    let ids = if all {
        delivery.queue.ids()
    } else {
        delivery.queue.due(now)
    };
    let ids = match ids {
        Ok(ids) => ids,
        Err(e) => {
            log::error("qmgr", &format!("cannot scan the queue: {e}"));
            return;
        }
    };
    for id in ids {
        process(delivery, cfg, &id).await;
    }
}

async fn process(delivery: &Arc<Delivery>, cfg: &RunnerConfig, id: &QueueId) {
    let (entry, message) = match delivery.queue.load_message(id) {
        Ok(x) => x,
        Err(e) => {
            log::error("qmgr", &format!("{id}: {e}"));
            return;
        }
    };
    let now = SystemTime::now();
    let lifetime = if entry.sender.is_empty() {
        cfg.bounce_lifetime
    } else {
        cfg.lifetime
    };
    if crate::queue::expired(&entry, now, lifetime) {
        let why = entry
            .last_error
            .clone()
            .unwrap_or_else(|| "delivery temporarily suspended".into());
        let failed: Vec<Failure> = entry
            .recipients
            .iter()
            .map(|r| Failure {
                recipient: r.clone(),
                status: "4.4.7".into(),
                diagnostic: format!("message expired: {why}"),
            })
            .collect();
        for r in &entry.recipients {
            log::info(
                "qmgr",
                &format!(
                    "{id}: to=<{}>, status=expired, returned to sender ({why})",
                    r.address
                ),
            );
        }
        delivery.bounce(id, &entry.sender, &failed, &message, entry.arrival);
        if let Err(e) = delivery.queue.remove(id) {
            log::error("qmgr", &format!("{id}: cannot remove: {e}"));
        }
        return;
    }

    let mut remaining: Vec<Recipient> = Vec::new();
    let mut failed: Vec<Failure> = Vec::new();
    let mut last_error: Option<String> = None;
    // Next hop → recipients (original kept for the bounce).
    let mut hops: BTreeMap<String, Vec<Recipient>> = BTreeMap::new();
    for r in &entry.recipients {
        match delivery.router.route(&r.address) {
            Ok(Route::Relay) => {
                let hop = match &cfg.relay.relayhost {
                    Some(_) => String::new(),
                    None => super::route::split(&r.address)
                        .1
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                };
                hops.entry(hop).or_default().push(r.clone());
            }
            Ok(Route::Local { users, forward }) => {
                for f in forward {
                    let hop = match &cfg.relay.relayhost {
                        Some(_) => String::new(),
                        None => super::route::split(&f).1.unwrap_or("").to_ascii_lowercase(),
                    };
                    hops.entry(hop).or_default().push(Recipient {
                        address: f,
                        original: r.original.clone(),
                    });
                }
                for u in users {
                    match delivery
                        .deliver_local(&u, &entry.sender, &r.address, "", &message)
                        .await
                    {
                        Ok(()) => log::info(
                            "local",
                            &format!(
                                "{id}: to=<{}>, relay=local, status=sent (delivered to mailbox)",
                                u.name
                            ),
                        ),
                        Err(e) if e.is_permanent() => failed.push(Failure {
                            recipient: r.clone(),
                            status: e.status().to_owned(),
                            diagnostic: e.text().to_owned(),
                        }),
                        Err(e) => {
                            last_error = Some(e.text().to_owned());
                            remaining.push(r.clone());
                        }
                    }
                }
            }
            Err(refusal) if refusal.code >= 500 => failed.push(Failure {
                recipient: r.clone(),
                status: refusal.enhanced.to_owned(),
                diagnostic: refusal.text,
            }),
            Err(refusal) => {
                last_error = Some(refusal.text);
                remaining.push(r.clone());
            }
        }
    }
    for (hop, rcpts) in hops {
        let addrs: Vec<String> = rcpts.iter().map(|r| r.address.clone()).collect();
        let (relay_cfg, sender, msg) = (cfg.relay.clone(), entry.sender.clone(), message.clone());
        let hop2 = hop.clone();
        let results = tokio::task::spawn_blocking(move || {
            super::relay::relay(&relay_cfg, &hop2, &sender, &addrs, &msg)
        })
        .await
        .unwrap_or_else(|e| {
            rcpts
                .iter()
                .map(|_| RcptResult::Deferred(format!("relay task failed: {e}")))
                .collect()
        });
        for (r, res) in rcpts.into_iter().zip(results) {
            match res {
                RcptResult::Sent(t) => log::info(
                    "smtp",
                    &format!("{id}: to=<{}>, status=sent ({t})", r.address),
                ),
                RcptResult::Deferred(t) => {
                    log::info(
                        "smtp",
                        &format!("{id}: to=<{}>, status=deferred ({t})", r.address),
                    );
                    last_error = Some(t);
                    remaining.push(r);
                }
                RcptResult::Bounced(t) => {
                    log::info(
                        "smtp",
                        &format!("{id}: to=<{}>, status=bounced ({t})", r.address),
                    );
                    failed.push(Failure {
                        recipient: r,
                        status: "5.0.0".into(),
                        diagnostic: t,
                    });
                }
            }
        }
    }
    if !failed.is_empty() {
        delivery.bounce(id, &entry.sender, &failed, &message, entry.arrival);
    }
    let result = if remaining.is_empty() {
        log::info("qmgr", &format!("{id}: removed"));
        delivery.queue.remove(id)
    } else {
        delivery
            .queue
            .defer(
                id,
                &remaining,
                last_error.as_deref().unwrap_or("deferred"),
                SystemTime::now(),
                cfg.min_backoff,
                cfg.max_backoff,
            )
            .map(drop)
    };
    if let Err(e) = result {
        log::error("qmgr", &format!("{id}: cannot update the queue file: {e}"));
    }
}
