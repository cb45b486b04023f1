"""E-mailing the report to ops: settings and flags, the MIME message, SMTP delivery.

The report is always written to disk first; mail is a copy of it. `deliver` and `send_saved_report` are what the
command line calls; `build_message` and `send` are the two halves, usable on their own.
"""

from __future__ import annotations

from .deliver import deliver, send_saved_report
from .message import build_message, subject_for
from .settings import MailSettings, SmtpSecurity, add_mail_arguments, mail_settings_from_args, should_send
from .smtp import SendResult, send
from .summary import cannot_receive

__all__ = [
    "MailSettings",
    "SendResult",
    "SmtpSecurity",
    "add_mail_arguments",
    "build_message",
    "cannot_receive",
    "deliver",
    "mail_settings_from_args",
    "send",
    "send_saved_report",
    "should_send",
    "subject_for",
]
