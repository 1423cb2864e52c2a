// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title PriceOracle: Chainlink-style prices per asset, 8 decimals, fed by authorised feeders.
/// @notice `devchain feed` pushes a simulated market here, one bar per block (or per interval).
contract PriceOracle {
    struct Round {
        uint80 roundId;
        int256 answer;
        uint256 updatedAt;
    }

    uint8 public constant decimals = 8;
    address public immutable owner;
    mapping(address => bool) public feeders;
    mapping(address => Round) private latest;
    mapping(address => mapping(uint80 => Round)) private rounds;

    event PriceUpdated(address indexed asset, uint80 roundId, int256 answer, uint256 updatedAt);

    constructor() {
        owner = msg.sender;
        feeders[msg.sender] = true;
    }

    function setFeeder(address who, bool allowed) external {
        require(msg.sender == owner, "PriceOracle: not the owner");
        feeders[who] = allowed;
    }

    /// @notice One price per asset, all in one transaction (one bar of the market).
    function setPrices(address[] calldata assets, int256[] calldata answers) external {
        require(feeders[msg.sender], "PriceOracle: not a feeder");
        require(assets.length == answers.length, "PriceOracle: assets and answers differ in length");
        for (uint256 i = 0; i < assets.length; i++) {
            require(answers[i] > 0, "PriceOracle: a price must be > 0");
            Round storage r = latest[assets[i]];
            r.roundId += 1;
            r.answer = answers[i];
            r.updatedAt = block.timestamp;
            rounds[assets[i]][r.roundId] = r;
            emit PriceUpdated(assets[i], r.roundId, answers[i], block.timestamp);
        }
    }

    function latestRoundData(address asset)
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = latest[asset];
        require(r.roundId > 0, "PriceOracle: no price for this asset");
        return (r.roundId, r.answer, r.updatedAt, r.updatedAt, r.roundId);
    }

    /// @notice A past round (Chainlink's getRoundData with the asset first): how a reader catches up on bars.
    function getRoundData(address asset, uint80 roundId)
        external
        view
        returns (uint80, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory r = rounds[asset][roundId];
        require(r.roundId > 0, "PriceOracle: no such round");
        return (r.roundId, r.answer, r.updatedAt, r.updatedAt, r.roundId);
    }

    /// @notice The latest price as a uint (8 decimals); reverts when there is none.
    function priceOf(address asset) public view returns (uint256) {
        Round memory r = latest[asset];
        require(r.roundId > 0, "PriceOracle: no price for this asset");
        return uint256(r.answer);
    }
}
