"""Organisation logos: checked by their content, not their name, and made small on upload.

Whatever was uploaded, what is stored is a PNG re-drawn by Pillow at most LOGO_SIZE pixels a
side: no metadata (a photo's location), no trailing bytes, no second format hidden in the file.
"""

import io

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

LOGO_SIZE = 256
FORMATS = {"PNG", "JPEG", "WEBP"}
# An image that unpacks to more pixels than this is refused before it is decoded.
MAX_PIXELS = 4096 * 4096


def normalise(upload) -> ContentFile:
    """The upload as a PNG of at most LOGO_SIZE x LOGO_SIZE, or a ValidationError."""
    bad = ValidationError("The logo must be a PNG, JPEG or WebP image.")
    try:
        with Image.open(upload) as image:
            if image.format not in FORMATS:
                raise bad
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValidationError("The logo is too large: at most 4096 × 4096 pixels.")
            image.load()
            has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
            image.thumbnail((LOGO_SIZE, LOGO_SIZE))
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        raise bad from None
    finally:
        upload.seek(0)
    return ContentFile(out.getvalue(), name="logo.png")
