// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import "./PriceOracle.sol";

/// @title VaultManager: users' vaults with exact balances per asset, cost basis and the guide's risk profile.
/// @notice Balances are 18-decimal units; values are 18-decimal US dollars at the oracle's 8-decimal prices.
/// Only the PolicyEngine moves holdings; the owner creates vaults and credits deposits (test set-up).
contract VaultManager {
    struct RiskProfile {
        uint16 riskToleranceBps; // the guide's risk_tolerance in [0, 1], in basis points
        uint16 timeToGoalMonths;
        uint256 investmentAmount; // 18-decimal dollars
        uint256 monthlyContribution; // 18-decimal dollars
    }

    address public immutable owner;
    PriceOracle public immutable oracle;
    address public immutable cashAsset;
    address public engine;
    address[] private assetList;
    mapping(address => bool) public isAsset;
    address[] private userList;
    mapping(address => bool) public hasVault;
    mapping(address => RiskProfile) private profiles;
    mapping(address => mapping(address => uint256)) private units;
    mapping(address => mapping(address => uint256)) private basis;
    mapping(address => uint256) public deposited;
    mapping(address => uint256) public lastTrade; // timestamp of the last executed trade (0: never)
    mapping(address => bool) public autoRebalanceOptIn;

    event VaultCreated(address indexed user, uint16 riskToleranceBps, uint16 timeToGoalMonths);
    event Deposited(address indexed user, address indexed asset, uint256 units, uint256 value);
    event PositionsSet(address indexed user, uint256 totalValue);

    modifier onlyOwner() {
        require(msg.sender == owner, "VaultManager: not the owner");
        _;
    }

    constructor(PriceOracle oracle_, address[] memory assets_, address cash_) {
        owner = msg.sender;
        oracle = oracle_;
        cashAsset = cash_;
        bool cashListed = false;
        for (uint256 i = 0; i < assets_.length; i++) {
            require(!isAsset[assets_[i]], "VaultManager: duplicate asset");
            isAsset[assets_[i]] = true;
            assetList.push(assets_[i]);
            if (assets_[i] == cash_) cashListed = true;
        }
        require(cashListed, "VaultManager: the cash asset must be listed");
    }

    function setEngine(address engine_) external onlyOwner {
        engine = engine_;
    }

    function createVault(address user, RiskProfile calldata profile, bool optIn) external onlyOwner {
        require(!hasVault[user], "VaultManager: vault exists");
        require(profile.riskToleranceBps <= 10_000, "VaultManager: riskToleranceBps above 10000");
        require(profile.timeToGoalMonths >= 1, "VaultManager: timeToGoalMonths must be >= 1");
        hasVault[user] = true;
        userList.push(user);
        profiles[user] = profile;
        autoRebalanceOptIn[user] = optIn;
        emit VaultCreated(user, profile.riskToleranceBps, profile.timeToGoalMonths);
    }

    /// @notice Credit `amount` units of `asset` (test set-up), at cost = its value at the oracle's price.
    function deposit(address user, address asset, uint256 amount) external onlyOwner {
        require(hasVault[user], "VaultManager: no vault for this user");
        require(isAsset[asset], "VaultManager: unknown asset");
        uint256 value = (amount * oracle.priceOf(asset)) / 1e8;
        units[user][asset] += amount;
        basis[user][asset] += value;
        deposited[user] += value;
        emit Deposited(user, asset, amount, value);
    }

    function setAutoRebalance(bool optIn) external {
        require(hasVault[msg.sender], "VaultManager: no vault for this user");
        autoRebalanceOptIn[msg.sender] = optIn;
    }

    /// @notice The engine writes a user's new holdings and cost basis after executing trades.
    function setPositions(address user, uint256[] calldata newUnits, uint256[] calldata newBasis, bool traded) external {
        require(msg.sender == engine, "VaultManager: only the PolicyEngine moves holdings");
        require(newUnits.length == assetList.length && newBasis.length == assetList.length, "VaultManager: bad lengths");
        for (uint256 i = 0; i < assetList.length; i++) {
            units[user][assetList[i]] = newUnits[i];
            basis[user][assetList[i]] = newBasis[i];
        }
        if (traded) lastTrade[user] = block.timestamp;
        (uint256 total,,) = getUserPortfolio(user);
        emit PositionsSet(user, total);
    }

    /// @notice The guide's call: total value (18-decimal dollars), assets, allocations in basis points.
    function getUserPortfolio(address user)
        public
        view
        returns (uint256 totalValue, address[] memory assets, uint256[] memory allocations)
    {
        require(hasVault[user], "VaultManager: no vault for this user");
        uint256 n = assetList.length;
        assets = assetList;
        allocations = new uint256[](n);
        uint256[] memory values = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            values[i] = (units[user][assetList[i]] * oracle.priceOf(assetList[i])) / 1e8;
            totalValue += values[i];
        }
        if (totalValue > 0) {
            for (uint256 i = 0; i < n; i++) {
                allocations[i] = (values[i] * 10_000) / totalValue;
            }
        }
    }

    /// @notice Exact holdings: units (18 decimals) and cost basis (18-decimal dollars) per asset.
    function getBalances(address user)
        external
        view
        returns (address[] memory assets, uint256[] memory amounts, uint256[] memory costBasis)
    {
        require(hasVault[user], "VaultManager: no vault for this user");
        uint256 n = assetList.length;
        assets = assetList;
        amounts = new uint256[](n);
        costBasis = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            amounts[i] = units[user][assetList[i]];
            costBasis[i] = basis[user][assetList[i]];
        }
    }

    function getRiskProfile(address user) external view returns (RiskProfile memory) {
        require(hasVault[user], "VaultManager: no vault for this user");
        return profiles[user];
    }

    function getAssets() external view returns (address[] memory) {
        return assetList;
    }

    function getUsers() external view returns (address[] memory) {
        return userList;
    }
}
