"""States of the owner's dashboard: analytics, operations, work queues, staff, leak tracing."""
