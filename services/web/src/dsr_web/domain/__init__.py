"""Pure rules of the pages: wording, the referral form, who sees what. No I/O."""
