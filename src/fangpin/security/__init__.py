"""Security: field encryption at rest with blind indexes (crypto, fields), the hash-chained audit log (audit),
PII-masking log filter (logs), backup and restore (backup). See docs/SECURITY.md."""
