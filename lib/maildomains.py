"""Mail domains that prove nothing about who holds an address: throwaway ones and ones that
give addresses to anyone. The sign form and organisation verification read the same lists."""

# The best-known throwaway-mail domains. A letter refuses them when "block disposable" is on;
# an organisation can never be verified through one.
DISPOSABLE_DOMAINS = frozenset(
    [
        "10minutemail.com",
        "20minutemail.com",
        "33mail.com",
        "anonbox.net",
        "dispostable.com",
        "dropmail.me",
        "emailondeck.com",
        "fakeinbox.com",
        "getairmail.com",
        "getnada.com",
        "guerrillamail.biz",
        "guerrillamail.com",
        "guerrillamail.de",
        "guerrillamail.net",
        "guerrillamail.org",
        "guerrillamailblock.com",
        "harakirimail.com",
        "inboxkitten.com",
        "mail.tm",
        "mailcatch.com",
        "maildrop.cc",
        "mailinator.com",
        "mailinator.net",
        "mailnesia.com",
        "mailpoof.com",
        "mintemail.com",
        "moakt.com",
        "mohmal.com",
        "mytemp.email",
        "sharklasers.com",
        "spamgourmet.com",
        "temp-mail.io",
        "temp-mail.org",
        "tempail.com",
        "tempmail.com",
        "tempmail.dev",
        "tempmailo.com",
        "tempr.email",
        "throwawaymail.com",
        "trashmail.com",
        "trashmail.de",
        "trashmail.net",
        "yopmail.com",
        "yopmail.fr",
        "yopmail.net",
    ]
)

# Addresses anyone can get: a domain among these proves nothing about who runs an organisation,
# so it may not be named as one of its email domains.
PUBLIC_MAIL_DOMAINS = frozenset(
    """
    aol.com fastmail.com gmail.com googlemail.com gmx.com gmx.de gmx.net hey.com hotmail.co.uk
    hotmail.com hotmail.fr icloud.com live.com mac.com mail.com mail.ru me.com msn.com
    outlook.com pm.me proton.me protonmail.com qq.com riseup.net tutanota.com tuta.io web.de
    yahoo.co.uk yahoo.com yahoo.fr yandex.com yandex.ru zoho.com
    """.split()  # noqa: SIM905 - a list that reads and grows
)


def is_disposable(domain: str) -> bool:
    """A disposable-mail domain or any subdomain of one (x@eu.mailinator.com)."""
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in DISPOSABLE_DOMAINS for i in range(len(labels) - 1))


def is_public_mail(domain: str) -> bool:
    """A domain that gives addresses to anyone, or a subdomain of one."""
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in PUBLIC_MAIL_DOMAINS for i in range(len(labels) - 1))
