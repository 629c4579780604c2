"""The organiser workspace under /manage/ (routes in petition/organiser_urls.py): a letter's
text and state, its team, the moderation of its signatures, its exports and the updates mailed to
its signers. Every view reaches its letter through `common.letter_for_organiser`."""
