// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./PriceOracle.sol";
import "./VaultManager.sol";

/// @title PolicyEngine: receives the AI's recommendations and executes them on the vaults.
/// @notice Trades fill at the oracle's latest prices with a fee, by the portfolio model's rules
/// (prometheus_sim.portfolio: sells first, each selling a fraction of the units held; then buys, each
/// spending a fraction of the cash held after the sells; the fee is taken from the traded value).
/// Fractions are 18-decimal (1e18 = 100 %). `canRebalance` and `autoRebalance` follow
/// prometheus_sim.portfolio.rules.RebalanceRules (cool-down, target, inflation tilt).
contract PolicyEngine {
    struct Recommendation {
        address asset;
        uint8 action; // 0 buy, 1 sell
        uint256 amount; // fraction, 18 decimals
    }

    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    uint8 public constant BUY = 0;
    uint8 public constant SELL = 1;

    address public immutable owner;
    VaultManager public immutable vault;
    PriceOracle public immutable oracle;
    uint256 public immutable feeBps;
    uint256 public immutable cooldownSeconds;
    uint256 public immutable minRiskyBps;
    uint256 public immutable riskySpanBps;
    uint256 public immutable inflationTargetBps;
    uint256 public immutable inflationTiltCapBps;
    mapping(address => bool) public authorisedOracles;
    mapping(bytes32 => bool) public usedKeys;

    event AIRecommendationExecuted(
        address indexed user, bytes32 indexed idempotencyKey, uint256 confidenceBps, uint256 legs,
        uint256 valueBefore, uint256 valueAfter, uint256 fees
    );
    event AutoRebalanced(address indexed user, uint256 inflationBps, uint256 riskyWeightBps, uint256 fees);

    constructor(
        VaultManager vault_,
        PriceOracle oracle_,
        uint256 feeBps_,
        uint256 cooldownSeconds_,
        uint256[4] memory rules // minRiskyBps, riskySpanBps, inflationTargetBps, inflationTiltCapBps
    ) {
        require(feeBps_ < BPS, "PolicyEngine: feeBps must be < 10000");
        require(rules[0] + rules[1] <= BPS, "PolicyEngine: minRisky + riskySpan above 100 %");
        owner = msg.sender;
        vault = vault_;
        oracle = oracle_;
        feeBps = feeBps_;
        cooldownSeconds = cooldownSeconds_;
        minRiskyBps = rules[0];
        riskySpanBps = rules[1];
        inflationTargetBps = rules[2];
        inflationTiltCapBps = rules[3];
    }

    function setOracle(address who, bool allowed) external {
        require(msg.sender == owner, "PolicyEngine: not the owner");
        authorisedOracles[who] = allowed;
    }

    function submitAIRecommendation(
        address user,
        Recommendation[] calldata recs,
        uint256 confidenceBps,
        bytes32 idempotencyKey
    ) external {
        require(authorisedOracles[msg.sender], "PolicyEngine: sender is not an authorised oracle");
        require(!usedKeys[idempotencyKey], "PolicyEngine: idempotency key already used");
        require(confidenceBps <= BPS, "PolicyEngine: confidenceBps above 10000");
        require(vault.hasVault(user), "PolicyEngine: no vault for this user");
        usedKeys[idempotencyKey] = true;
        (address[] memory assets, uint256[] memory sell, uint256[] memory buy) = _fractions(recs);
        (uint256 before,,) = vault.getUserPortfolio(user);
        uint256 fees = _execute(user, assets, sell, buy);
        (uint256 afterValue,,) = vault.getUserPortfolio(user);
        emit AIRecommendationExecuted(user, idempotencyKey, confidenceBps, recs.length, before, afterValue, fees);
    }

    /// @notice The cool-down has passed since the user's last trade, and the user opted in.
    function canRebalance(address user) public view returns (bool) {
        if (!vault.hasVault(user) || !vault.autoRebalanceOptIn(user)) return false;
        uint256 last = vault.lastTrade(user);
        return last == 0 || block.timestamp >= last + cooldownSeconds;
    }

    /// @notice Move the vault to its risk profile's target, tilted towards crypto by inflation above target.
    /// `inflationBps` is the inflation rate in basis points (the guide's percent x 100).
    function autoRebalance(address user, uint256 inflationBps) external {
        require(authorisedOracles[msg.sender], "PolicyEngine: sender is not an authorised oracle");
        require(canRebalance(user), "PolicyEngine: cannot rebalance now (cool-down or not opted in)");
        VaultManager.RiskProfile memory profile = vault.getRiskProfile(user);
        uint256 risky = minRiskyBps + (riskySpanBps * profile.riskToleranceBps) / BPS;
        if (inflationBps > inflationTargetBps) {
            uint256 tilt = inflationBps - inflationTargetBps;
            risky += tilt < inflationTiltCapBps ? tilt : inflationTiltCapBps;
        }
        if (risky > BPS) risky = BPS;
        (address[] memory assets, uint256[] memory amounts,) = vault.getBalances(user);
        uint256 n = assets.length;
        uint256 cryptoCount = 0;
        for (uint256 i = 0; i < n; i++) if (_isRisky(assets[i])) cryptoCount++;
        uint256[] memory target = new uint256[](n); // WAD weights
        for (uint256 i = 0; i < n; i++) {
            if (_isRisky(assets[i])) target[i] = (risky * WAD) / BPS / cryptoCount;
            if (assets[i] == vault.cashAsset()) target[i] = cryptoCount > 0 ? WAD - (risky * WAD) / BPS : WAD;
        }
        (uint256[] memory sell, uint256[] memory buy) = _targetOrders(assets, amounts, target);
        uint256 fees = _execute(user, assets, sell, buy);
        emit AutoRebalanced(user, inflationBps, risky, fees);
    }

    // ------------------------------------------------------------ internals

    mapping(address => bool) public riskyAsset;

    function setRiskyAssets(address[] calldata assets, bool risky) external {
        require(msg.sender == owner, "PolicyEngine: not the owner");
        for (uint256 i = 0; i < assets.length; i++) riskyAsset[assets[i]] = risky;
    }

    function _isRisky(address asset) internal view returns (bool) {
        return riskyAsset[asset];
    }

    function _fractions(Recommendation[] calldata recs)
        internal
        view
        returns (address[] memory assets, uint256[] memory sell, uint256[] memory buy)
    {
        assets = vault.getAssets();
        uint256 n = assets.length;
        sell = new uint256[](n);
        buy = new uint256[](n);
        address cash = vault.cashAsset();
        for (uint256 k = 0; k < recs.length; k++) {
            require(recs[k].action <= SELL, "PolicyEngine: action must be 0 (buy) or 1 (sell)");
            require(recs[k].amount <= WAD, "PolicyEngine: amount is a fraction and must be <= 1e18");
            require(recs[k].asset != cash, "PolicyEngine: the cash asset is not traded against itself");
            uint256 i = 0;
            while (i < n && assets[i] != recs[k].asset) i++;
            require(i < n, "PolicyEngine: unknown asset");
            require(sell[i] == 0 && buy[i] == 0, "PolicyEngine: an asset appears twice");
            if (recs[k].action == SELL) sell[i] = recs[k].amount;
            else buy[i] = recs[k].amount;
        }
    }

    /// @dev prometheus_sim.portfolio.nb.target_orders_row_nb, in fixed point.
    function _targetOrders(address[] memory assets, uint256[] memory amounts, uint256[] memory target)
        internal
        view
        returns (uint256[] memory sell, uint256[] memory buy)
    {
        uint256 n = assets.length;
        sell = new uint256[](n);
        buy = new uint256[](n);
        address cash = vault.cashAsset();
        uint256[] memory values = new uint256[](n);
        uint256 total = 0;
        uint256 cashAfter = 0;
        for (uint256 i = 0; i < n; i++) {
            values[i] = (amounts[i] * oracle.priceOf(assets[i])) / 1e8;
            total += values[i];
            if (assets[i] == cash) cashAfter = values[i];
        }
        for (uint256 i = 0; i < n; i++) {
            if (assets[i] == cash) continue;
            uint256 goal = (target[i] * total) / WAD;
            if (values[i] > goal && values[i] > 0) {
                uint256 excess = values[i] - goal;
                sell[i] = (excess * WAD) / values[i];
                cashAfter += excess;
            }
        }
        if (cashAfter == 0) return (sell, buy);
        uint256 spend = 0;
        for (uint256 i = 0; i < n; i++) {
            if (assets[i] == cash) continue;
            uint256 goal = (target[i] * total) / WAD;
            if (goal > values[i]) {
                uint256 f = ((goal - values[i]) * WAD) / cashAfter;
                buy[i] = f < WAD ? f : WAD;
                spend += buy[i];
            }
        }
        if (spend > WAD) {
            for (uint256 i = 0; i < n; i++) buy[i] = (buy[i] * WAD) / spend;
        }
    }

    /// @dev prometheus_sim.portfolio.nb.fill_row_nb with no slippage: sells, then buys from the cash after them.
    function _execute(address user, address[] memory assets, uint256[] memory sell, uint256[] memory buy)
        internal
        returns (uint256 fees)
    {
        (, uint256[] memory u, uint256[] memory b) = vault.getBalances(user);
        uint256 n = assets.length;
        address cash = vault.cashAsset();
        uint256 c = 0;
        while (assets[c] != cash) c++;
        uint256 cashPx = oracle.priceOf(cash);
        bool traded = false;
        for (uint256 i = 0; i < n; i++) {
            if (sell[i] == 0 || i == c) continue;
            uint256 sold = (u[i] * sell[i]) / WAD;
            if (sold == 0) continue;
            uint256 notional = (sold * oracle.priceOf(assets[i])) / 1e8;
            uint256 fee = (notional * feeBps) / BPS;
            u[i] -= sold;
            b[i] = (b[i] * (WAD - sell[i])) / WAD;
            u[c] += ((notional - fee) * 1e8) / cashPx;
            b[c] += notional - fee;
            fees += fee;
            traded = true;
        }
        uint256 cashUnits = u[c];
        uint256 unitCost = cashUnits > 0 ? (b[c] * WAD) / cashUnits : 0;
        bool bought = false;
        for (uint256 i = 0; i < n; i++) {
            if (buy[i] == 0 || i == c) continue;
            uint256 spendUnits = (cashUnits * buy[i]) / WAD;
            if (spendUnits > u[c]) spendUnits = u[c];
            if (spendUnits == 0) continue;
            uint256 spend = (spendUnits * cashPx) / 1e8;
            uint256 notional = (spend * BPS) / (BPS + feeBps);
            u[i] += (notional * 1e8) / oracle.priceOf(assets[i]);
            b[i] += spend;
            u[c] -= spendUnits;
            fees += spend - notional;
            bought = true;
            traded = true;
        }
        if (bought) b[c] = (unitCost * u[c]) / WAD;
        vault.setPositions(user, u, b, traded);
    }
}
