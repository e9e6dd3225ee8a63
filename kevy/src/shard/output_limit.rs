//! `client-output-buffer-limit` enforcement. Once per loop iteration, before
//! the backend takes the connections whose output grew, each of them is
//! checked against its class's limit; a connection over the hard limit, or
//! over the soft limit for too long, loses its pending output and is closed
//! at once, as Redis closes such a client "ASAP" without flushing it.

use crate::config::ClientClass;

use super::ShardCore;

impl ShardCore {
    /// Closes the dirty connections whose pending output broke their limit.
    pub(super) fn enforce_output_limits(&mut self) {
        let normal = *self.config.output_limits.class(ClientClass::Normal);
        let pubsub = *self.config.output_limits.class(ClientClass::Pubsub);
        let unlimited = |l: &crate::config::OutputLimit| l.hard_bytes == 0 && l.soft_bytes == 0;
        if unlimited(&normal) && unlimited(&pubsub) {
            return;
        }
        let now_ms = self.now_ms;
        let mut over = Vec::new();
        for &id in &self.dirty {
            // Subscribers are the `pubsub` class, as Redis's getClientType.
            let limit = if self.pubsub.is_subscriber(id) {
                pubsub
            } else {
                normal
            };
            let Some(conn) = self.conns.get_mut(id).and_then(Option::as_mut) else {
                continue;
            };
            let pending = conn.output_len() as u64;
            if limit.reached(pending, now_ms, &mut conn.over_soft_limit_since_ms) {
                log::warn!(
                    "Client id={} addr={} name={} omem={pending} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    conn.client_id,
                    conn.peer,
                    String::from_utf8_lossy(&conn.name),
                );
                conn.output.clear();
                conn.output_sent = 0;
                conn.slots.clear();
                conn.input.clear();
                conn.close_after_replies = true;
                conn.waiting_coordination = false;
                over.push(id);
            }
        }
        for id in over {
            self.close_if_done(id);
        }
    }
}
