//! SMTP server protocol: smtp-in and submission (RFC 5321).
