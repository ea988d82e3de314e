/**
 * The cap on each tenant's open operations over WebSocket (MAX_SUBSCRIPTIONS_PER_TENANT), counted
 * across all of the tenant's sockets. A slot is taken once an operation is known to run and given
 * back through the release it came with; releasing twice is harmless, so every way an operation
 * can end (complete, error, the socket closing) may release it without knowing about the others.
 */
export type ReleaseSlot = () => void;

export class SubscriptionSlots {
  private readonly held = new Map<string, number>();

  constructor(private readonly maxPerTenant: number) {}

  /** A slot for the tenant, or null when it already holds the maximum. */
  tryAcquire(tenantId: string): ReleaseSlot | null {
    const n = this.held.get(tenantId) ?? 0;
    if (n >= this.maxPerTenant) return null;
    this.held.set(tenantId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(tenantId) ?? 1) - 1;
      if (left > 0) this.held.set(tenantId, left); else this.held.delete(tenantId);
    };
  }
}
