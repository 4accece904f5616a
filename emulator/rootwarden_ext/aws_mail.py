"""Mail AWS itself sends to a root address, delivered through the local SES receipt path.

The messages are modelled on the corpus in tests/fixtures/mail (AWS's own wording, plain text,
CRLF line ends, a unique SES-style Message-ID). They are received with every verdict PASS and a
DKIM pass for the From domain, as AWS's signed mail is, via ses_receipt.receive(). When no
receipt rule matches the address (a customer's own mailbox, not our inbox) AWS mailed it
elsewhere: nothing is delivered here and the log says so (never with the secret it carries).
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timezone

from . import ses_receipt
from .common import log

FOOTER = ("Amazon Web Services, Inc. is a subsidiary of Amazon.com, Inc. Amazon.com is a\n"
          "registered trademark of Amazon.com, Inc. This message was produced and\n"
          "distributed by Amazon Web Services Inc., 410 Terry Ave. North, Seattle,\n"
          "WA 98109-5210.\n")

FROM_VERIFY = "Amazon Web Services <no-reply@verify.signin.aws>"
FROM_SIGNIN = "Amazon Web Services <no-reply@signin.aws>"
FROM_AWS = "Amazon Web Services <no-reply-aws@amazon.com>"


def _ses_id(now: datetime) -> str:
    u = str(uuid.uuid4())
    return f"{int(now.timestamp() * 1000):016x}-{u}-000000"


def build(from_: str, to: str, subject: str, text: str) -> bytes:
    now = datetime.now(timezone.utc)
    sid = _ses_id(now)
    headers = [
        f"From: {from_}",
        f"To: {to}",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 7bit",
        "Date: " + now.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        f"Message-ID: <{sid}@email.amazonses.com>",
        "X-SES-Outgoing: " + now.strftime("%Y.%m.%d") + "-54.240.8.21",
        "Feedback-ID: 1.us-east-1." + secrets.token_urlsafe(32) + "=:AmazonSES",
    ]
    body = text if text.endswith("\n") else text + "\n"
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")).encode()


def send(raw: bytes, to: str, what: str) -> dict | None:
    """Deliver AWS's message `raw` to `to`; `what` names it in the log. None when no receipt
    rule matches (AWS mailed it elsewhere)."""
    import email
    from email.utils import parseaddr

    from_addr = parseaddr(str(email.message_from_bytes(raw).get("From", "")))[1]
    domain = from_addr.rsplit("@", 1)[-1]
    bounce = f"{_ses_id(datetime.now(timezone.utc))}@amazonses.com"
    try:
        out = ses_receipt.receive(raw, [to], None, domain, bounce)
    except ses_receipt.NoRuleMatches:
        log(f"AWS mail ({what}) to {to}: no receipt rule of ours matches, AWS mailed it elsewhere")
        return None
    log(f"AWS mail ({what}) to {to}: received as SES message {out['message_id']}")
    return out


def _when(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%B %d, %Y at %H:%M UTC").replace(" 0", " ")


def email_change_verification(to: str, code: str) -> bytes:
    # names no account: the address (the registry) is what resolves it
    text = (
        "Amazon Web Services\n\n"
        "Verify your new email address\n\n"
        "We received a request to change the email address of the root user of an AWS account\n"
        "to this email address. To confirm the change, enter the following verification code\n"
        "when prompted.\n\n"
        f"Your AWS verification code is: {code}\n\n"
        "(This code is valid for 24 hours)\n\n"
        "If you did not request this change, you can ignore this message; the email address of\n"
        "the account will not change.\n\n"
        "Amazon Web Services will never email you and ask you to disclose or verify your password,\n"
        "credit card, or banking account number.\n\n" + FOOTER)
    return build(FROM_VERIFY, to, "AWS Account Email Change Verification", text)


def password_reset(to: str, link: str) -> bytes:
    text = (
        "Amazon Web Services Password Assistance\n\n"
        "We received a request to reset the password associated with this e-mail\n"
        "address. If you made this request, please follow the instructions below.\n\n"
        "Click the link below to reset your password using our secure server:\n\n"
        f"{link}\n\n"
        "If clicking the link doesn't seem to work, you can copy and paste the link\n"
        "into your browser's address window, or retype it there. Once you have\n"
        "returned to Amazon Web Services, we will give instructions for resetting\n"
        "your password.\n\n"
        "This link will expire 1 hour after this email was sent.\n\n"
        "If you did not request to have your password reset you can safely ignore\n"
        "this email. Rest assured your account is safe.\n\n"
        "Amazon Web Services will never e-mail you and ask you to disclose or verify\n"
        "your Amazon Web Services password, credit card, or banking account number.\n"
        "If you receive a suspicious e-mail with a link to update your account\n"
        "information, do not click on the link--instead, report the e-mail to\n"
        "Amazon Web Services for investigation.\n\n"
        "Thanks for visiting Amazon Web Services!\n\n" + FOOTER)
    return build(FROM_SIGNIN, to, "Amazon Web Services Password Assistance", text)


def password_changed(to: str) -> bytes:
    text = (
        "Hello,\n\n"
        "Your AWS password has been changed.\n\n"
        "The password for the root user of the Amazon Web Services account associated\n"
        f"with this email address was changed on {_when()}.\n\n"
        "If you made this change, no further action is needed.\n\n"
        "If you did not change your password, your account may have been accessed by\n"
        "someone else. Contact AWS Support right away:\n"
        "https://aws.amazon.com/support\n\n"
        "Sincerely,\n"
        "Amazon Web Services\n\n" + FOOTER)
    return build(FROM_SIGNIN, to, "Your AWS password has been changed", text)


def mfa_device_added(to: str, account_id: str, device_name: str) -> bytes:
    acct = f"{account_id[0:4]}-{account_id[4:8]}-{account_id[8:12]}"
    now = datetime.now(timezone.utc)
    text = (
        "Hello,\n\n"
        "A multi-factor authentication (MFA) device was added to the root user of\n"
        "your AWS account.\n\n"
        f"AWS account: {acct}\n"
        "Device type: Authenticator app\n"
        f"Device name: {device_name}\n"
        "Time: " + now.strftime("%B %d, %Y, %H:%M UTC").replace(" 0", " ") + "\n\n"
        "If you added this device, no action is required. If you didn't add this\n"
        "device, sign in to the AWS Management Console immediately, remove the device,\n"
        "change your root user password and contact AWS Support.\n\n"
        "Sincerely,\n"
        "Amazon Web Services\n\n" + FOOTER)
    return build(FROM_SIGNIN, to, "MFA device added to your AWS account root user", text)


def account_closed(to: str, account_id: str) -> bytes:
    """"AWS Account Closure Confirmation" (tests/fixtures/mail/account-01-closure-confirmation.eml)."""
    acct = f"{account_id[0:4]}-{account_id[4:8]}-{account_id[8:12]}"
    text = (
        "Greetings from Amazon Web Services,\n\n"
        "This email confirms that you have closed your AWS account.\n\n"
        f"Account ID: {acct}\n\n"
        "For 90 days after closure (the \"post-closure period\"), you can sign in to\n"
        "your account to view past bills, access AWS Support, and reopen the\n"
        "account. After the post-closure period, AWS will permanently close your\n"
        "account and you will no longer be able to reopen it. Any content remaining\n"
        "in your account will be deleted.\n\n"
        "You may receive a final bill for usage incurred before you closed the\n"
        "account.\n\n"
        "Sincerely,\n"
        "Amazon Web Services\n\n" + FOOTER)
    return build(FROM_AWS, to, "AWS Account Closure Confirmation", text)


def mask_address(address: str) -> str:
    """AWS's masking of the new address in the change notice: first character, ***, domain."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def root_email_changed(to: str, account_id: str, new_email: str, now: datetime | None = None) -> bytes:
    """"The email address for your AWS account root user was changed", to the PREVIOUS address
    (tests/fixtures/mail/account-05-root-email-changed.eml)."""
    now = now or datetime.now(timezone.utc)
    text = (
        "Hello,\n\n"
        "The email address for the root user of your AWS account was changed.\n\n"
        f"AWS Account ID: {account_id}\n"
        f"Previous email address: {to}\n"
        f"New email address: {mask_address(new_email)}\n"
        "Date of change: " + now.strftime("%B %d, %Y, %H:%M UTC").replace(" 0", " ") + "\n\n"
        "You are receiving this message at the previous email address. If you didn't\n"
        "make this change, contact AWS Support immediately:\n"
        "https://aws.amazon.com/support\n\n"
        "Sincerely,\n"
        "Amazon Web Services\n\n" + FOOTER)
    return build(FROM_SIGNIN, to, "The email address for your AWS account root user was changed", text)
