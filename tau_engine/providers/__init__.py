"""Model providers: one module per wire format, all streaming the same normalized events."""
