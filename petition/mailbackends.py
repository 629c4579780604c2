"""The embedded default's mail: printed to the console as a person reads it.

Django's console backend prints the raw MIME message, where quoted-printable breaks long links
across lines; a newcomer running `make run` must be able to copy the confirmation link as is.
"""

from django.core.mail.backends.console import EmailBackend


class ConsoleBackend(EmailBackend):
    def write_message(self, message):
        rule = "-" * 79
        self.stream.write(
            f"{rule}\nMail to: {', '.join(message.to)}\nSubject: {message.subject}\n\n"
            f"{message.body.strip()}\n{rule}\n"
        )
