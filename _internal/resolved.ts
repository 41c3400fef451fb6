// One resolved promise for every operation that finished synchronously: a
// close with nothing in flight, an uncontended lock. A promise per call
// would be an allocation on the churn path; and since it is one object, a
// caller that gets it back knows there is nothing to wait for (the
// connection table then skips tracking the close).

/** An already-resolved `Promise<void>`, shared. */
export const RESOLVED: Promise<void> = Promise.resolve();
