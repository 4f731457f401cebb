"""fangpin (防贫): monitoring and assistance platform that keeps rural households from falling (back) into poverty."""
from fangpin.security.logs import install as _install_pii_filter

# No PII in logs (docs/SECURITY.md): every log record of the process has ID and phone numbers masked.
_install_pii_filter()
