"""The loopback SMTP server the tests send alerts to: the shipped stand-in (standins/mail.py)."""
from standins.mail import SmtpServer, mail_url

__all__ = ["SmtpServer", "mail_url"]
