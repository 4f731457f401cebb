"""fangpin (防贫): monitoring and assistance platform that keeps rural households from falling (back) into poverty."""
