"""Mechanisms around the core loop (seed 004 §三(四)(五), §四(七), §六(十五)(十六), §八(二十四); POLICY.md §11):
public-welfare jobs, project assets, relocation sites, scorecards. See docs/PROGRAMMES.md."""
