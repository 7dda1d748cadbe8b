"""Calling the customer first: campaigns from the order store, paced outbound calls on Twilio and
SIP through the same call pipeline as inbound calls, answering-machine detection, outcomes."""
