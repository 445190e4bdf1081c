-- OpenTelemetry (enable_otlp): the W3C traceparent of the enqueue's span, so the worker that
-- runs the workflow continues the enqueuing process's trace. NULL when tracing is off.
ALTER TABLE workflow_status ADD COLUMN trace_context TEXT;
